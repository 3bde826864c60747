// Data-path benchmarks on the real registry binary with the synthesized configuration (TLS +
// htpasswd; pushes to the writer, pulls and HEADs from the read-only reader, as nodes pull)
// against the same binary with less security, all started by the e2e fixture.
// Run by bench/data-path.mjs as `node -r ts-node/register/transpile-only bench/data-path.ts
// <transfer|head> [--smoke]`; prints one JSON line of raw samples (the .mjs side does medians).
import { randomBytes } from 'crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { join } from 'path';
import { htpasswdLine, HTPASSWD_BCRYPT_COST } from '../src/access/htpasswd';
import { run } from '../test/e2e/exec';
import { ociManifestDigest, writeOciImage } from '../test/e2e/oci-image';
import { httpRequest, MANIFEST_ACCEPT } from '../test/e2e/registry-client';
import { RegistryEndpoint, RegistryFixture, RegistryFixtureOptions, startSynthesizedRegistry } from '../test/e2e/registry-fixture';

const MiB = 2 ** 20;
const REPOSITORY = 'bench/image';
const TAG = 'bench';

const elapsedMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

/** Starts every fixture, runs `body`, and disposes of them all whatever happens. */
async function withRegistries<K extends string, T>(
  options: Record<K, RegistryFixtureOptions>,
  body: (fixtures: Record<K, RegistryFixture>) => Promise<T>,
): Promise<T> {
  const started: Partial<Record<K, RegistryFixture>> = {};
  try {
    // One at a time: starting is not measured, but the machine has only 2 cores.
    for (const key of Object.keys(options) as K[]) {
      started[key] = await startSynthesizedRegistry(options[key]);
    }
    return await body(started as Record<K, RegistryFixture>);
  } finally {
    for (const fixture of Object.values<RegistryFixture | undefined>(started)) {
      await fixture?.dispose();
    }
  }
}

/** Empties the pod's storage (both processes restarted) so that the next push uploads every blob. */
async function wipeStorage(fixture: RegistryFixture): Promise<void> {
  await fixture.writer.process.kill();
  await fixture.reader.process.kill();
  rmSync(fixture.materialized.storageDir, { recursive: true, force: true });
  mkdirSync(fixture.materialized.storageDir, { recursive: true });
  await fixture.restart();
}

/**
 * Push and pull of one multi-layer image of random bytes, secured vs bare, interleaved run by run
 * (with the order alternating) so that drift in the machine's load hits both alike. Every push
 * goes to emptied storage; every pull is by digest into a fresh OCI layout. Secured: the push
 * identity pushes to the writer, the pull identity pulls from the read-only reader. Bare: the
 * writer's configuration without TLS and auth (a plain registry) for both.
 */
async function transfer(smoke: boolean) {
  const layers = 8;
  const layerBytes = (smoke ? 1 : 32) * MiB;
  const runs = smoke ? 2 : 5;
  return withRegistries({ secured: {}, bare: { tls: false, auth: false } }, async (fixtures) => {
    const image = writeOciImage(join(fixtures.secured.scratchDir, 'image'), { tag: TAG, layerSizes: Array(layers).fill(layerBytes) });
    const imageBytes = [...image.blobs.values()].reduce((sum, blob) => sum + blob.length, 0);
    const samples = { secured: { push: [] as number[], pull: [] as number[] }, bare: { push: [] as number[], pull: [] as number[] } };
    // Run 0 is a warm-up (skopeo's and the registry's first use), not recorded.
    for (let i = 0; i <= runs; i++) {
      const order = i % 2 ? (['bare', 'secured'] as const) : (['secured', 'bare'] as const);
      for (const name of order) {
        const fixture = fixtures[name];
        await wipeStorage(fixture);
        let start = process.hrtime.bigint();
        const digest = await fixture.writer.skopeo.push(image.dir, TAG, REPOSITORY);
        const push = elapsedMs(start);
        if (digest !== image.manifestDigest) {
          throw new Error(`${name}: pushed manifest digest ${digest}, expected ${image.manifestDigest}`);
        }
        const pullDir = join(fixture.scratchDir, `pull-${i}`);
        start = process.hrtime.bigint();
        await pullPath(fixture, name).skopeo.pullByDigest(REPOSITORY, digest, pullDir, TAG);
        const pull = elapsedMs(start);
        if (ociManifestDigest(pullDir, TAG) !== digest) {
          throw new Error(`${name}: pulled layout does not hold ${digest}`);
        }
        rmSync(pullDir, { recursive: true, force: true });
        if (i > 0) {
          samples[name].push.push(push);
          samples[name].pull.push(pull);
        }
      }
    }
    return { layers, layerBytes, imageBytes, runs, samples };
  });
}

/** Where pulls go: the read-only reader of the secured pod, the plain writer of a bare one. */
function pullPath(fixture: RegistryFixture, name: string): RegistryEndpoint {
  return name === 'bare' || name === 'plain' ? fixture.writer : fixture.reader;
}

/** Replaces the reader's htpasswd file with the same pull user hashed at `cost`, and restarts it. */
async function rehash(fixture: RegistryFixture, cost: number): Promise<void> {
  await fixture.reader.process.kill();
  writeFileSync(fixture.reader.materialized.effectiveConfig.auth.htpasswd.path, `${htpasswdLine(fixture.pullCredentials, { cost, saltSeed: randomBytes(32).toString('hex') })}\n`);
  await fixture.restart();
}

/** Fails unless the reader's htpasswd file holds a `$2y$` hash of exactly `cost`. */
function assertCost(fixture: RegistryFixture, cost: number): void {
  const line = readFileSync(fixture.reader.materialized.effectiveConfig.auth.htpasswd.path, 'utf-8').trim();
  if (!line.includes(`:$2y$${String(cost).padStart(2, '0')}$`)) {
    throw new Error(`expected a bcrypt cost ${cost} htpasswd line, found ${line.replace(/\$2y\$(\d\d)\$.*/, '$2y$$$1$...')}`);
  }
}

/**
 * Authenticated `HEAD /v2/<repo>/manifests/<digest>` requests per second on the read-only reader
 * (the pull path) at the synthesized bcrypt cost, at 5 (`htpasswd -B`'s default), 10 and 12,
 * against the same reader without auth over TLS (isolates bcrypt) and a plain registry (the
 * writer's configuration without TLS and auth: the bare baseline). Keep-alive connections, fixed
 * concurrency and duration; configurations interleaved rep by rep.
 */
async function head(smoke: boolean) {
  const concurrency = 8;
  const durationMs = smoke ? 500 : 3_000;
  const warmupMs = smoke ? 200 : 1_000;
  const reps = smoke ? 2 : 5;
  const configs = {
    plain: { tls: false, auth: false },
    tls: { tls: true, auth: false },
    [`cost${HTPASSWD_BCRYPT_COST}`]: {},
    cost5: {},
    cost10: {},
    cost12: {},
  } as Record<string, RegistryFixtureOptions>;
  const costs: Record<string, number> = { [`cost${HTPASSWD_BCRYPT_COST}`]: HTPASSWD_BCRYPT_COST, cost5: 5, cost10: 10, cost12: 12 };
  return withRegistries(configs, async (fixtures) => {
    const names = Object.keys(configs);
    const loadDir = join(fixtures.plain.scratchDir, 'image');
    const image = writeOciImage(loadDir, { tag: TAG, layerSizes: [4096] });
    for (const name of names) {
      const fixture = fixtures[name];
      if (costs[name] !== undefined) {
        if (costs[name] !== HTPASSWD_BCRYPT_COST) {
          await rehash(fixture, costs[name]);
        }
        assertCost(fixture, costs[name]);
        // Auth must really be on: the same request without credentials is refused.
        const anonymous = await httpRequest(`${fixture.reader.process.url}/v2/${REPOSITORY}/manifests/${image.manifestDigest}`, { method: 'HEAD', caPem: fixture.pki?.caPem });
        if (anonymous.status !== 401) {
          throw new Error(`${name}: anonymous HEAD answered ${anonymous.status}, expected 401`);
        }
      }
      await fixture.writer.skopeo.push(image.dir, TAG, REPOSITORY);
    }

    const load = async (name: string, duration: number) => {
      const fixture = fixtures[name];
      const spec = {
        url: `${pullPath(fixture, name).process.url}/v2/${REPOSITORY}/manifests/${image.manifestDigest}`,
        caFile: fixture.pki?.caCertPath,
        headers: { Accept: MANIFEST_ACCEPT },
        concurrency,
        durationMs: duration,
      };
      const authorization = costs[name] === undefined ? {} : { BENCH_AUTHORIZATION: basic(fixture) };
      const result = await run(process.execPath, [join(__dirname, 'head-load.mjs'), JSON.stringify(spec)], {
        timeoutMs: duration + 60_000,
        env: { PATH: process.env.PATH, ...authorization },
      });
      if (result.code !== 0) {
        throw new Error(`${name}: head-load exited with ${result.code ?? result.signal}: ${result.stderr}`);
      }
      const measured = JSON.parse(result.stdout.trim());
      if (Object.keys(measured.statuses).some((status) => status !== '200')) {
        throw new Error(`${name}: non-200 answers ${JSON.stringify(measured.statuses)}`);
      }
      return measured.rps as number;
    };

    for (const name of names) {
      await load(name, warmupMs);
    }
    const rps: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
    for (let rep = 0; rep < reps; rep++) {
      // Rotate the order so that no configuration always runs first or last.
      for (const name of [...names.slice(rep % names.length), ...names.slice(0, rep % names.length)]) {
        rps[name].push(await load(name, durationMs));
      }
    }
    return { concurrency, durationMs, reps, ourCost: HTPASSWD_BCRYPT_COST, rps };
  });
}

function basic(fixture: RegistryFixture): string {
  return `Basic ${Buffer.from(`${fixture.pullCredentials.username}:${fixture.pullCredentials.password}`).toString('base64')}`;
}

async function main(): Promise<void> {
  const [mode] = process.argv.slice(2);
  const smoke = process.argv.includes('--smoke');
  const benchmarks: Record<string, (smoke: boolean) => Promise<unknown>> = { transfer, head };
  if (!benchmarks[mode]) {
    throw new Error(`usage: data-path.ts <${Object.keys(benchmarks).join('|')}> [--smoke]`);
  }
  console.log(JSON.stringify(await benchmarks[mode](smoke)));
}

// The parent's timeout sends SIGTERM: exit normally so the fixture's exit hook kills the registries.
process.once('SIGTERM', () => process.exit(143));
main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
