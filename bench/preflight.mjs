// Preflight benchmark: `trusted-registry preflight` (the shipped command, a cold process) on a
// dump of N pods shaped like `kubectl get pods -A -o json` output (uids, owner references,
// status, 3 containers each, 1 in 10 in an exempt namespace, most images refused), against a
// floor measured in the same run: a process that only reads and JSON-parses the same dump.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

function timeRuns(args, runs, cwd, expectStatus) {
  const once = () => {
    const start = process.hrtime.bigint();
    const result = spawnSync(process.execPath, args, { cwd, encoding: 'utf-8', maxBuffer: 1 << 30 });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== expectStatus) throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
    return { ms, stdout: result.stdout };
  };
  const warm = once();
  return { ms: median(Array.from({ length: runs }, () => once().ms)), stdout: warm.stdout };
}

export function benchPreflight({ root, runs, sizes = [1000, 10000] }) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-preflight-'));
  try {
    return sizes.flatMap((count) => {
      const dumpPath = join(dir, `dump-${count}.json`);
      writeFileSync(dumpPath, JSON.stringify(podDump(count)));
      const floor = timeRuns(['-e', `JSON.parse(require('fs').readFileSync(${JSON.stringify(dumpPath)}, 'utf-8'))`], runs, root, 0);
      const preflight = timeRuns(['lib/src/cli.js', 'preflight', '--json', dumpPath], runs, root, 1);
      const report = JSON.parse(preflight.stdout);
      if (report.objects !== count || report.checked + report.notChecked !== count) throw new Error(`preflight saw ${report.objects} objects, not ${count}`);
      const isTarget = count === 10000;
      return [{
        figure: `preflight, ${count} pods (cold process, median; ${report.refused.length} workloads refused)`,
        project: fmtMs(preflight.ms),
        baseline: `read + JSON.parse only ${fmtMs(floor.ms)}`,
        ratio: fmtRatio(preflight.ms / floor.ms),
        target: isTarget ? '≤ 10000 ms' : 'reported',
        met: isTarget ? preflight.ms <= 10000 : true,
      }];
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
