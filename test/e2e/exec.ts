import { spawn } from 'child_process';

/** How a finished command ended and what it printed. */
export interface RunResult {
  /** Exit code, or null when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, if any. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of `run()`. */
export interface RunOptions {
  /** The command is SIGKILLed and `run()` rejects after this long. */
  readonly timeoutMs: number;
  /** Environment of the command; defaults to this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Secrets in the arguments (e.g. a password) that error messages show as `***`. */
  readonly redact?: readonly string[];
}

function describeCommand(command: string, args: readonly string[], redact: readonly string[] = []): string {
  return redact.reduce((text, secret) => text.split(secret).join('***'), [command, ...args].join(' '));
}

/**
 * Runs a command without a shell and resolves with its exit status, whatever it is; rejects only
 * when the command cannot be started or outlives `timeoutMs`.
 */
export function run(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${describeCommand(command, args, options.redact)} did not finish within ${options.timeoutMs} ms; stderr: ${Buffer.concat(stderr).toString()}`));
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() });
    });
    // Closed at once, so that nothing (e.g. openssl s_client) waits for input.
    child.stdin.end();
  });
}

/** Like `run()`, but rejects (with stderr in the message) unless the command exits with 0. */
export async function runChecked(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${describeCommand(command, args, options.redact)} exited with ${result.code ?? result.signal}: ${result.stderr.trim()}`);
  }
  return result;
}
