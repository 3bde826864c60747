import { createHmac } from 'crypto';
import * as bcrypt from '../bundled/bcryptjs';
import { invalid, validateInteger } from '../validation';

/**
 * bcrypt cost of every htpasswd hash the constructs write: 4, bcrypt's minimum. The registry
 * re-checks the hash on every request, so each step up doubles the CPU time of every push and
 * pull (bench/README.md: authenticated requests per second fall from 0.6× of unauthenticated at
 * cost 4 to 0.5× at 5 and 0.04× at 10), while the passwords this chart accepts (≥ 16 characters,
 * random when generated) gain nothing from it.
 */
export const HTPASSWD_BCRYPT_COST = 4;

/** Passwords shorter than this are refused: a low bcrypt cost is only safe for long secrets. */
export const MIN_PASSWORD_LENGTH = 16;

/** bcrypt ignores everything after 72 bytes, so a longer password is not what it seems. */
const MAX_PASSWORD_BYTES = 72;

/** The shortest salt seed accepted: 32 characters, e.g. `openssl rand -hex 32` gives 64. */
export const MIN_SALT_SEED_LENGTH = 32;

/** A registry user whose password is hashed into htpasswd at synth time. */
export interface RegistryUser {
  /** User name: not empty, no `:` and no whitespace (htpasswd's field separator and line format). */
  readonly username: string;

  /** Password: at least 16 characters, at most 72 bytes. Only its bcrypt hash is synthesized. */
  readonly password: string;
}

/** Options of `htpasswdLine()`. */
export interface HtpasswdOptions {
  /**
   * A secret of at least `MIN_SALT_SEED_LENGTH` characters (e.g. `openssl rand -hex 32`) from
   * which the bcrypt salts are derived, kept out of source control like the passwords. Required:
   * salts derived from public data alone (host and user name) would let one precomputed table
   * attack every registry with the same host and user names, and they are the same on every
   * synth, so a seed is the only source of salt that is both secret and deterministic.
   */
  readonly saltSeed: string;

  /**
   * Non-secret text that makes the salt unique to this registry (e.g. its host), so the same
   * user, password and seed hash differently on two registries.
   * @default ''
   */
  readonly saltContext?: string;

  /**
   * bcrypt cost.
   * @default HTPASSWD_BCRYPT_COST
   */
  readonly cost?: number;
}

/** Checks a user as htpasswd and bcrypt require; `prop` names the input in errors. */
export function validateRegistryUser(prop: string, user: RegistryUser): void {
  if (!user.username || /[:\s]/.test(user.username)) {
    invalid(`${prop}.username`, 'must be a non-empty name without ":" or whitespace', user.username);
  }
  // Errors show the password's length, never the password.
  if (user.password.length < MIN_PASSWORD_LENGTH) {
    throw new Error(`'${prop}.password' must be at least ${MIN_PASSWORD_LENGTH} characters (use a random one), got ${user.password.length} characters`);
  }
  const bytes = Buffer.byteLength(user.password, 'utf-8');
  if (bytes > MAX_PASSWORD_BYTES) {
    throw new Error(`'${prop}.password' must be at most ${MAX_PASSWORD_BYTES} bytes (bcrypt ignores the rest), got ${bytes} bytes`);
  }
}

/** Checks a salt seed; errors show its length, never the seed. */
export function validateSaltSeed(prop: string, seed: unknown): string {
  if (typeof seed !== 'string' || seed.length < MIN_SALT_SEED_LENGTH) {
    const got = typeof seed === 'string' ? `${seed.length} characters` : String(seed);
    throw new Error(`'${prop}' must be a secret of at least ${MIN_SALT_SEED_LENGTH} characters (e.g. the output of "openssl rand -hex 32", kept out of source control like the passwords): bcrypt salts derived from public data alone can be attacked with one precomputed table per host and user name; got ${got}`);
  }
  return seed;
}

/**
 * One htpasswd line `user:$2y$<cost>$<salt><hash>` for the user.
 *
 * The salt is an HMAC-SHA256, keyed with the secret `saltSeed`, of `saltContext` and the user
 * name; never of the password. So the output is byte-identical on every synth (GitOps), the salt
 * cannot be computed without the seed, and each guess still costs a bcrypt computation.
 */
export function htpasswdLine(user: RegistryUser, options: HtpasswdOptions): string {
  validateRegistryUser('user', user);
  const seed = validateSaltSeed('saltSeed', options?.saltSeed);
  const cost = validateInteger('cost', options.cost ?? HTPASSWD_BCRYPT_COST, 4, 31);
  const saltBytes = createHmac('sha256', seed)
    .update(`cdk8s-trusted-registry/htpasswd\0${options.saltContext ?? ''}\0${user.username}`)
    .digest()
    .subarray(0, 16);
  const salt = `$2y$${String(cost).padStart(2, '0')}$${bcrypt.encodeBase64(saltBytes, 16)}`;
  return `${user.username}:${bcrypt.hashSync(user.password, salt)}`;
}
