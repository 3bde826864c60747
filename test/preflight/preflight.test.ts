import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { TrustedRegistryChart } from '../../src';
import { PolicyEvaluator } from '../../src/preflight/policy-evaluator';
import { formatReport, parseDump, PreflightReport, runPreflight, WORKLOAD_RESOURCES } from '../../src/preflight/preflight';
import { AdmissionSimulator } from '../policy/admission-harness';
import { describeWithBinaries } from '../util/binaries';

// Preflight on cluster dumps: objects printed by the real kubectl (`--dry-run=client -o json`,
// which needs no cluster for deployments, jobs and cronjobs) plus a hand-written List for the
// kinds kubectl can only print with a server (pods, statefulsets, daemonsets, replicasets,
// replicationcontrollers), with the ownerReferences, uids and status a live dump carries.

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
const MIRRORED = `registry.mycorp.local/mirror/docker.io/library/nginx@${DIGEST}`;
const CLI = join(__dirname, '..', '..', 'lib', 'src', 'cli.js');

function kubectl(...args: string[]): any {
  const result = spawnSync('kubectl', [...args, '--dry-run=client', '-o', 'json'], { encoding: 'utf-8' });
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** What a live cluster adds to an object: a uid, owner references, status. */
function live(object: any, uid: string, owner?: any): any {
  const metadata = { ...object.metadata, uid };
  if (owner) {
    metadata.ownerReferences = [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true }];
  }
  return { ...object, metadata, status: object.status ?? { observedGeneration: 1 } };
}

const podSpec = (images: string[], extra: object = {}) => ({ containers: images.map((image, i) => ({ name: `c${i}`, image })), ...extra });
const template = (spec: object) => ({ metadata: { labels: { app: 'x' } }, spec });
const object = (apiVersion: string, kind: string, name: string, namespace: string, spec: object) => ({ apiVersion, kind, metadata: { name, namespace }, spec });

function clusterDump(): any {
  const web = live(kubectl('create', 'deployment', 'web', '--image=nginx:1.27', '--image=registry.mycorp.local/team/app:v1', '-n', 'apps'), 'uid-web');
  const webRs = live(object('apps/v1', 'ReplicaSet', 'web-5d4', 'apps', { replicas: 2, selector: { matchLabels: { app: 'x' } }, template: web.spec.template }), 'uid-web-rs', web);
  const webPods = ['a', 'b'].map((suffix) => live(object('v1', 'Pod', `web-5d4-${suffix}`, 'apps', web.spec.template.spec), `uid-web-pod-${suffix}`, webRs));
  const mirrored = live(kubectl('create', 'deployment', 'mirrored', `--image=${MIRRORED}`, '-n', 'apps'), 'uid-mirrored');
  const job = live(kubectl('create', 'job', 'migrate', '--image=busybox:1.36', '-n', 'batch'), 'uid-job');
  const cron = live(kubectl('create', 'cronjob', 'report', '--image=ghcr.io/acme/report:2', '--schedule=0 * * * *', '-n', 'batch'), 'uid-cron');
  const cronJob = live(object('batch/v1', 'Job', 'report-290', 'batch', { template: cron.spec.jobTemplate.spec.template }), 'uid-cron-job', cron);
  const exemptJob = live(kubectl('create', 'job', 'cleanup', '--image=busybox:1.36', '-n', 'kube-system'), 'uid-exempt');
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps', labels: { 'kubernetes.io/metadata.name': 'apps', 'team': 'a' } } },
      web, webRs, ...webPods, mirrored, job, cron, cronJob, exemptJob,
      // A nested List, as `kubectl get a,b -o json` output concatenated by a script may be.
      {
        apiVersion: 'v1',
        kind: 'List',
        items: [
          live(object('apps/v1', 'StatefulSet', 'db', 'data', { serviceName: 'db', selector: { matchLabels: { app: 'x' } }, template: template(podSpec(['postgres:16'])) }), 'uid-db'),
          live(object('apps/v1', 'DaemonSet', 'agent', 'monitoring', { selector: { matchLabels: { app: 'x' } }, template: template(podSpec([`quay.io/prometheus/node-exporter@${DIGEST}`])) }), 'uid-agent'),
          live(object('v1', 'ReplicationController', 'old', 'legacy', { replicas: 1, template: template(podSpec(['registry.mycorp.local/team/old@sha256:' + 'a'.repeat(64)], { initContainers: [{ name: 'init', image: 'alpine' }] })) }), 'uid-rc'),
          live(object('apps/v1', 'ReplicaSet', 'orphan', 'legacy', { selector: { matchLabels: { app: 'x' } }, template: template(podSpec([MIRRORED])) }), 'uid-orphan'),
          live(object('v1', 'Pod', 'debugged', 'legacy', podSpec([MIRRORED], { ephemeralContainers: [{ name: 'debug', image: 'busybox' }], volumes: [{ name: 'data', image: { reference: 'quay.io/data/set:v1' } }] })), 'uid-debugged'),
          live(object('v1', 'Pod', 'static', 'registry', podSpec(['docker.io/library/registry:2'])), 'uid-registry'),
          { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'apps' }, spec: { ports: [{ port: 80 }] } },
        ],
      },
    ],
  };
}

function defaultChartManifests(): unknown[] {
  return Testing.synth(new TrustedRegistryChart(Testing.app(), 'trusted-registry'));
}

describeWithBinaries('trusted-registry preflight', ['kubectl'], () => {
  const manifests = defaultChartManifests();
  const evaluator = new PolicyEvaluator(manifests);
  let dump: any;
  let report: PreflightReport;
  beforeAll(() => {
    dump = clusterDump();
    report = runPreflight(evaluator, parseDump(JSON.stringify(dump)));
  });

  test('every workload kind of the dump is checked as a CREATE', () => {
    // GIVEN the dump holds every kind the policy checks
    const kinds = new Set(parseDump(JSON.stringify(dump)).map((o) => o.kind));
    Object.keys(WORKLOAD_RESOURCES).forEach((kind) => expect(kinds).toContain(kind));
    // THEN the counts add up: 17 objects, 15 workloads of which 2 exempt, a Service and a Namespace
    expect(report).toMatchObject({ objects: 17, checked: 13, notChecked: 2, notCheckedNamespaces: ['kube-system', 'registry'], otherKinds: 1 });
  });

  test('refused objects are grouped under the workload that controls them, with the policy\'s own messages', () => {
    expect(report.refused.map((r) => [r.namespace, `${r.workload.kind}/${r.workload.name}`, r.objects.map((o) => `${o.kind}/${o.name}`)])).toEqual([
      ['apps', 'Deployment/web', ['Deployment/web', 'ReplicaSet/web-5d4', 'Pod/web-5d4-a', 'Pod/web-5d4-b']],
      ['batch', 'CronJob/report', ['CronJob/report', 'Job/report-290']],
      ['batch', 'Job/migrate', ['Job/migrate']],
      ['data', 'StatefulSet/db', ['StatefulSet/db']],
      ['legacy', 'Pod/debugged', ['Pod/debugged']],
      ['legacy', 'ReplicationController/old', ['ReplicationController/old']],
      ['monitoring', 'DaemonSet/agent', ['DaemonSet/agent']],
    ]);
    expect(report.refused[0].messages).toEqual([
      'images must come from a trusted registry (registry.mycorp.local/), refused: "nginx:1.27"',
      'images must be pinned by digest (name[:tag]@sha256:<64 lowercase hex>), refused: "nginx:1.27", "registry.mycorp.local/team/app:v1"',
    ]);
    // Ephemeral containers and image volumes count.
    expect(report.refused.find((r) => r.workload.name === 'debugged')!.messages[0]).toBe('images must come from a trusted registry (registry.mycorp.local/), refused: "busybox", "quay.io/data/set:v1"');
  });

  test('images already mirrored by digest and exempt namespaces are not refused', () => {
    const names = report.refused.map((r) => r.workload.name);
    expect(names).not.toContain('mirrored');
    expect(names).not.toContain('orphan');
    expect(names).not.toContain('cleanup');
    expect(names).not.toContain('static');
  });

  test('lists the distinct images to mirror and the trusted ones to pin', () => {
    expect(report.imagesToMirror).toEqual(['alpine', 'busybox', 'busybox:1.36', 'ghcr.io/acme/report:2', 'nginx:1.27', 'postgres:16', `quay.io/data/set:v1`, `quay.io/prometheus/node-exporter@${DIGEST}`]);
    expect(report.imagesToPin).toEqual(['registry.mycorp.local/team/app:v1']);
  });

  test('each decision is the one the two-engine admission harness reaches', () => {
    const simulator = new AdmissionSimulator(manifests);
    try {
      const refusedNames = new Set(report.refused.flatMap((r) => r.objects.map((o) => o.name)));
      for (const item of parseDump(JSON.stringify(dump)).filter((o) => WORKLOAD_RESOURCES[o.kind])) {
        const { status: _status, ...object } = item;
        const result = simulator.review({ operation: 'CREATE', resource: WORKLOAD_RESOURCES[item.kind], namespace: item.metadata.namespace, object });
        expect([item.metadata.name, result.allowed]).toEqual([item.metadata.name, !refusedNames.has(item.metadata.name)]);
      }
    } finally {
      simulator.close();
    }
  });

  test('the text report names namespaces, workloads, messages and images', () => {
    const text = formatReport(report);
    expect(text).toContain('namespace apps:\n  Deployment/web (and 1 ReplicaSet, 2 Pods it controls)\n    - images must come from a trusted registry (registry.mycorp.local/), refused: "nginx:1.27"\n');
    expect(text).toContain('Images to mirror (8):\n  alpine\n');
    expect(text).toContain('Trusted images to pin by digest (1):\n  registry.mycorp.local/team/app:v1\n');
    expect(text).toMatch(/7 workloads in 5 namespaces would be refused\.\n$/);
  });

  test('namespace labels from the dump reach the binding\'s selector', () => {
    // GIVEN a policy bound only to namespaces labelled team=a
    const bound = manifests.map((m: any) => (m.kind === 'ValidatingAdmissionPolicyBinding'
      ? { ...m, spec: { ...m.spec, matchResources: { namespaceSelector: { matchLabels: { team: 'a' } } } } } : m));
    // WHEN / THEN only the apps namespace (labelled in the dump) is checked
    const scoped = runPreflight(new PolicyEvaluator(bound), parseDump(JSON.stringify(dump)));
    expect(new Set(scoped.refused.map((r) => r.namespace))).toEqual(new Set(['apps']));
  });

  test('progress is reported while evaluating', () => {
    const calls: Array<[number, number]> = [];
    runPreflight(evaluator, parseDump(JSON.stringify(dump)), { progressEvery: 5, onProgress: (done, total) => calls.push([done, total]) });
    expect(calls).toEqual([[5, 17], [10, 17], [15, 17], [17, 17]]);
  });

  describe('the command', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'preflight-cli-'));
      writeFileSync(join(dir, 'dump.json'), JSON.stringify(dump));
      const app = Testing.app();
      new TrustedRegistryChart(app, 'trusted-registry');
      writeFileSync(join(dir, 'chart.yaml'), app.synthYaml());
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const cli = (args: string[], input?: string) => spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf-8', env: { PATH: process.env.PATH } });

    test('is the package\'s trusted-registry bin, runnable as a script', () => {
      const bin = JSON.parse(require('fs').readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf-8')).bin;
      expect(bin).toEqual({ 'trusted-registry': 'lib/src/cli.js' });
      expect(require('fs').readFileSync(CLI, 'utf-8')).toMatch(/^#!\/usr\/bin\/env node\n/);
      expect(cli(['--help']).stdout).toContain('trusted-registry preflight');
    });

    test('reads the synthesized YAML and a dump file, prints the report and exits 1 when something would be refused', () => {
      const result = cli(['preflight', '--manifests', join(dir, 'chart.yaml'), join(dir, 'dump.json')]);
      expect(result.status).toBe(1);
      expect(result.stdout).toBe(formatReport(report));
    });

    test('--json from stdin, with the default app\'s policy when no manifests are given', () => {
      const result = cli(['preflight', '--json'], JSON.stringify(dump));
      expect(result.status).toBe(1);
      expect(JSON.parse(result.stdout)).toEqual(JSON.parse(JSON.stringify(report)));
    });

    test('exits 0 when nothing would be refused', () => {
      const clean = { apiVersion: 'v1', kind: 'List', items: [kubectl('create', 'deployment', 'ok', `--image=${MIRRORED}`, '-n', 'apps')] };
      const result = cli(['preflight'], JSON.stringify(clean));
      expect(result.status).toBe(0);
      expect(result.stdout).toContain('Nothing would be refused.');
    });

    test('--progress reports on stderr', () => {
      const result = cli(['preflight', '--progress', '--json'], JSON.stringify(dump));
      expect(result.stderr).toContain('preflight: 17/17 objects evaluated');
    });

    test.each([
      [['preflight', '/nonexistent/dump.json'], 'error: ENOENT'],
      [['preflight', '--manifests', '/nonexistent.yaml'], 'error: ENOENT'],
      [['preflight', '--frobnicate'], "error: Unknown option '--frobnicate'"],
      [['launch'], 'error: unknown command "launch"'],
    ])('fails with exit status 2 if given %j', (args, message) => {
      const result = cli(args, '{}');
      expect(result.status).toBe(2);
      expect(result.stderr).toContain(message);
    });

    test('fails with exit status 2 if the dump is not Kubernetes objects', () => {
      const result = cli(['preflight'], '[1, 2]');
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('error: the dump must hold Kubernetes objects or Lists of them');
    });
  });
});
