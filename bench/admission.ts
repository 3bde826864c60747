// Admission latency of the ValidatingAdmissionPolicy on a real kube-apiserver (run by
// bench/admission.mjs under ts-node, reusing the control plane of test/kube): pod CREATE, server
// dry-run and real, with 1, 10 and 100 containers, the policy bound vs no policy, in one run.
// Prints one JSON line of raw samples (ms).
//
// Usage: node -r ts-node/register/transpile-only bench/admission.ts [--smoke]
import { mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { TrustedImagePolicy } from '../src';
import { ControlPlane } from '../test/kube/control-plane';
import { KubeClient } from '../test/kube/kube-fixture';
import { kubeVersions, missingKubePrerequisites } from '../test/kube/versions';

const smoke = process.argv.includes('--smoke');
const SAMPLES = smoke ? 30 : 400;
/** Bound and unbound blocks alternate this many times each. */
const BLOCKS = smoke ? 2 : 8;
const WARM_UP = smoke ? 5 : 40;
const CONTAINER_COUNTS = [1, 10, 100];
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
/** Where the policy is bound, and where its binding exempts (so the request is identical but no CEL runs). */
const CHECKED = 'bench-checked';
const EXEMPT = 'bench-exempt';

type Condition = 'none' | 'policy' | 'exempt';
type Mode = 'dryRun' | 'real';

function pod(name: string, containers: number) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      containers: Array.from({ length: containers }, (_, i) => ({ name: `c${i}`, image: `registry.mycorp.local/team/app${i}@${DIGEST}` })),
    },
  };
}

async function main(): Promise<void> {
  const version = kubeVersions()[0];
  const missing = missingKubePrerequisites([version]);
  if (missing.length > 0) throw new Error(`admission benchmark needs ${missing.join('; ')}`);
  const plane = await ControlPlane.start({ version, workDir: mkdtempSync(join(tmpdir(), 'bench-admission-')) });
  process.on('exit', () => plane.stop());
  process.on('SIGTERM', () => process.exit(143));
  const client = new KubeClient(plane.cluster);
  try {
    for (const namespace of [CHECKED, EXEMPT]) {
      await client.ensureNamespace(namespace);
      await client.waitFor(`ServiceAccount ${namespace}/default`, async () => (await client.request('GET', `/api/v1/namespaces/${namespace}/serviceaccounts/default`)).status === 200);
    }

    let serial = 0;
    /** One CREATE, timed from request to response; a real pod is deleted afterwards (untimed). */
    const create = async (namespace: string, containers: number, mode: Mode): Promise<number> => {
      const name = `p${serial++}`;
      const start = process.hrtime.bigint();
      const response = await client.request('POST', `/api/v1/namespaces/${namespace}/pods${mode === 'dryRun' ? '?dryRun=All' : ''}`, { body: pod(name, containers) });
      const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
      if (response.status !== 201) throw new Error(`CREATE ${namespace}/${name} answered ${response.status}: ${JSON.stringify(response.body)}`);
      if (mode === 'real') await client.expectOk('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}?gracePeriodSeconds=0`);
      return elapsed;
    };
    const samples: Record<string, number[]> = {};
    /** `perBlock` samples of each condition per size and mode, interleaved request by request. */
    const measure = async (conditions: Array<[Condition, string]>, perBlock: number) => {
      for (const containers of CONTAINER_COUNTS) {
        for (const mode of ['dryRun', 'real'] as Mode[]) {
          for (let i = 0; i < perBlock; i++) {
            for (const [condition, namespace] of (i % 2 === 0 ? conditions : [...conditions].reverse())) {
              (samples[`${condition}/${mode}/${containers}`] ??= []).push(await create(namespace, containers, mode));
            }
          }
        }
      }
    };

    // The policy (as the chart binds it), enforcing in CHECKED and exempting EXEMPT; bound and
    // unbound in alternating blocks, so that the machine's drift lands on both sides alike.
    const chart = Testing.chart();
    new TrustedImagePolicy(chart, 'Policy', { trustedSources: ['registry.mycorp.local'], exemptNamespaces: ['kube-system', EXEMPT] });
    const manifests = Testing.synth(chart) as any[];
    const path = (manifest: any) => `/apis/admissionregistration.k8s.io/v1/${manifest.kind === 'ValidatingAdmissionPolicy' ? 'validatingadmissionpolicies' : 'validatingadmissionpolicybindings'}`;
    const probe = async () => {
      const response = await client.request('POST', `/api/v1/namespaces/${CHECKED}/pods?dryRun=All`, { body: { ...pod('probe', 1), spec: { containers: [{ name: 'c', image: 'nginx' }] } } });
      return response.status === 422 && /ValidatingAdmissionPolicy/.test(response.body.message);
    };
    const bind = async () => {
      for (const manifest of manifests) await client.expectOk('POST', path(manifest), { body: manifest });
      await client.waitFor('the policy to be in force', probe);
    };
    const unbind = async () => {
      for (const manifest of [...manifests].reverse()) await client.expectOk('DELETE', `${path(manifest)}/${manifest.metadata.name}`);
      await client.waitFor('the policy to be gone', async () => !(await probe()));
    };
    const unboundBlock = () => measure([['none', CHECKED]], SAMPLES / BLOCKS);
    const boundBlock = async () => {
      await bind();
      await measure([['policy', CHECKED], ['exempt', EXEMPT]], SAMPLES / BLOCKS);
      await unbind();
    };

    // Warm-up (discarded): the first requests of each shape pay for caches and connections.
    await measure([['none', CHECKED]], WARM_UP);
    for (const key of Object.keys(samples)) delete samples[key];
    for (let block = 0; block < BLOCKS; block++) {
      if (block % 2 === 0) {
        await unboundBlock();
        await boundBlock();
      } else {
        await boundBlock();
        await unboundBlock();
      }
    }

    console.log(JSON.stringify({ version, samples: SAMPLES, blocks: BLOCKS, warmUp: WARM_UP, containerCounts: CONTAINER_COUNTS, ms: samples }));
  } finally {
    client.close();
    plane.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
