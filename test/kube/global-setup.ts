import { mkdtempSync, readdirSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import type { Config } from '@jest/types';
import { ControlPlane } from './control-plane';
import { CLUSTERS_FILE_ENV, kubeVersions, missingKubePrerequisites } from './versions';

/** Where globalTeardown finds what globalSetup started (both run in Jest's main process). */
export const CONTROL_PLANES_KEY = '__trustedRegistryControlPlanes';
type Started = { planes: ControlPlane[]; stateDir: string };

/** Whether this run includes a test file of the tier (a full run, or a path pattern naming one). */
function runsKubeTests(globalConfig: Config.GlobalConfig): boolean {
  const files = readdirSync(__dirname).filter((name) => name.endsWith('.test.ts')).map((name) => join(__dirname, name));
  const pattern = globalConfig.testPathPattern;
  if (!pattern) return true;
  const regex = new RegExp(pattern, 'i');
  return files.some((file) => regex.test(file));
}

/**
 * Starts one control plane per version in TRUSTED_REGISTRY_KUBE_VERSIONS before any test file
 * runs, and tells the test files where they are (CLUSTERS_FILE_ENV). Starts nothing, quickly, when
 * the run has no test of the tier or a binary is missing: the test files then skip (or fail
 * under E2E_REQUIRED=1) naming what to install. Never builds.
 */
export default async function globalSetup(globalConfig: Config.GlobalConfig): Promise<void> {
  delete process.env[CLUSTERS_FILE_ENV];
  if (!runsKubeTests(globalConfig)) return;
  const versions = kubeVersions();
  if (missingKubePrerequisites(versions).length > 0) return;

  const stateDir = mkdtempSync(join(tmpdir(), 'trusted-registry-kube-'));
  const keep = process.env.E2E_KEEP_WORKDIR === '1';
  const started: Started = { planes: [], stateDir };
  (globalThis as any)[CONTROL_PLANES_KEY] = started;
  // Last resort if Jest exits without running globalTeardown (the watchdogs cover a crash).
  process.once('exit', () => started.planes.forEach((plane) => plane.stop()));

  const results = await Promise.allSettled(versions.map((version) =>
    ControlPlane.start({ version, workDir: join(stateDir, `v${version}`), keepWorkDir: keep })));
  for (const result of results) {
    if (result.status === 'fulfilled') started.planes.push(result.value);
  }
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) {
    started.planes.forEach((plane) => plane.stop());
    throw failure.reason;
  }

  const clustersFile = join(stateDir, 'clusters.json');
  writeFileSync(clustersFile, JSON.stringify(started.planes.map((plane) => plane.cluster), null, 2));
  // Test workers start after globalSetup and inherit this environment.
  process.env[CLUSTERS_FILE_ENV] = clustersFile;
  if (keep) console.log(`\nKubernetes control planes: ${stateDir} (kept: E2E_KEEP_WORKDIR=1)`);
}
