// Preflight benchmark: `trusted-registry preflight` (the shipped command, a cold process) on a
// dump of N pods shaped like `kubectl get pods -A -o json` output (uids, owner references,
// status, 3 containers each, 1 in 10 in an exempt namespace, most images refused), against a
// floor measured in the same run: a process that only reads and JSON-parses the same dump.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmtMs, fmtRatio, median } from './stats.mjs';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

/** A dump of `count` pods in 50 namespaces (namespace 0 is kube-system, exempt by default). */
export function podDump(count) {
  const images = ['nginx:1.27', 'registry.mycorp.local/team/app:v1', `registry.mycorp.local/team/app@${DIGEST}`, `quay.io/prometheus/node-exporter@${DIGEST}`, 'busybox'];
  const items = Array.from({ length: count }, (_, i) => {
    const namespace = i % 10 === 0 ? 'kube-system' : `team-${i % 50}`;
    const owner = `web-${i % 500}`;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${owner}-${i}`, namespace, uid: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
        labels: { 'app': owner, 'pod-template-hash': '5d4c7b9f8' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${owner}-5d4c7b9f8`, uid: `rs-${i % 500}`, controller: true, blockOwnerDeletion: true }],
        creationTimestamp: '2026-11-01T00:00:00Z', resourceVersion: String(1000 + i),
      },
      spec: {
        containers: [0, 1, 2].map((c) => ({
          name: `c${c}`, image: images[(i + c) % images.length], imagePullPolicy: 'IfNotPresent',
          ports: [{ containerPort: 8080 + c, protocol: 'TCP' }],
          resources: { requests: { cpu: '10m', memory: '32Mi' } },
          volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
        })),
        initContainers: i % 4 === 0 ? [{ name: 'init', image: 'alpine:3.20' }] : undefined,
        nodeName: `node-${i % 20}`, restartPolicy: 'Always', serviceAccountName: 'default',
        volumes: [{ name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }] } }],
      },
      status: { phase: 'Running', podIP: `10.0.${Math.floor(i / 250)}.${i % 250}`, conditions: [{ type: 'Ready', status: 'True' }] },
    };
  });
  return { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
}

// GNU time reports the child's CPU time (user + sys): on a machine shared with other work the
// wall time also measures the others, the CPU time only this command.
const GNU_TIME = '/usr/bin/time';

function timeRuns(args, runs, cwd, expectStatus, dir) {
  const cpuFile = join(dir, 'cpu');
  const once = () => {
    const withTime = existsSync(GNU_TIME);
    const start = process.hrtime.bigint();
    const result = withTime
      ? spawnSync(GNU_TIME, ['-o', cpuFile, '-f', '%U %S', process.execPath, ...args], { cwd, encoding: 'utf-8', maxBuffer: 1 << 30 })
      : spawnSync(process.execPath, args, { cwd, encoding: 'utf-8', maxBuffer: 1 << 30 });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== expectStatus) throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
    const cpuMs = withTime ? readFileSync(cpuFile, 'utf-8').trim().split('\n').pop().split(' ').reduce((sum, s) => sum + Number(s) * 1000, 0) : NaN;
    return { ms, cpuMs, stdout: result.stdout };
  };
  const warm = once();
  const samples = Array.from({ length: runs }, once);
  return { ms: median(samples.map((s) => s.ms)), cpuMs: median(samples.map((s) => s.cpuMs)), stdout: warm.stdout };
}

/**
 * The command as the README's rollout runs it: `--manifests` names the synthesized YAML (written
 * here from the default chart, in a process of its own so its cost is not counted).
 */
export function benchPreflight({ root, runs, sizes = [1000, 10000] }) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-preflight-'));
  try {
    const manifests = join(dir, 'trusted-registry.k8s.yaml');
    const synth = spawnSync(process.execPath, ['-e', `const { Testing } = require('cdk8s'); const { TrustedRegistryChart } = require('./lib/src');
      const app = Testing.app(); new TrustedRegistryChart(app, 'trusted-registry'); require('fs').writeFileSync(${JSON.stringify(manifests)}, app.synthYaml());`], { cwd: root, encoding: 'utf-8' });
    if (synth.status !== 0) throw new Error(synth.stderr);
    return sizes.flatMap((count) => {
      const dumpPath = join(dir, `dump-${count}.json`);
      writeFileSync(dumpPath, JSON.stringify(podDump(count)));
      const floor = timeRuns(['-e', `JSON.parse(require('fs').readFileSync(${JSON.stringify(dumpPath)}, 'utf-8'))`], runs, root, 0, dir);
      const preflight = timeRuns(['lib/src/cli.js', 'preflight', '--json', '--manifests', manifests, dumpPath], runs, root, 1, dir);
      const report = JSON.parse(preflight.stdout);
      if (report.objects !== count || report.checked + report.notChecked !== count) throw new Error(`preflight saw ${report.objects} objects, not ${count}`);
      const isTarget = count === 10000;
      const load = `load ${loadavg()[0].toFixed(1)}`;
      return [{
        figure: `preflight, ${count} pods: wall time, cold process (median; ${report.refused.length} workloads refused, ${load})`,
        project: fmtMs(preflight.ms),
        baseline: `read + JSON.parse only ${fmtMs(floor.ms)}`,
        ratio: fmtRatio(preflight.ms / floor.ms),
        target: isTarget ? '≤ 10000 ms' : 'reported',
        met: isTarget ? preflight.ms <= 10000 : true,
      }, {
        figure: `preflight, ${count} pods: CPU time (user + sys, median)`,
        project: fmtMs(preflight.cpuMs),
        baseline: `read + JSON.parse only ${fmtMs(floor.cpuMs)}`,
        ratio: fmtRatio(preflight.cpuMs / floor.cpuMs),
        target: isTarget ? '≤ 10000 ms' : 'reported',
        met: isTarget ? preflight.cpuMs <= 10000 : true,
      }];
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
