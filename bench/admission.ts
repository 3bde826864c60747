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
    /** Samples of the given conditions, interleaved request by request so that drift lands on all alike. */
    const measure = async (conditions: Array<[Condition, string]>) => {
      const samples: Record<string, number[]> = {};
      for (const containers of CONTAINER_COUNTS) {
        for (const mode of ['dryRun', 'real'] as Mode[]) {
          for (let i = 0; i < WARM_UP; i++) for (const [, namespace] of conditions) await create(namespace, containers, mode);
          for (let i = 0; i < SAMPLES; i++) {
            for (const [condition, namespace] of (i % 2 === 0 ? conditions : [...conditions].reverse())) {
              (samples[`${condition}/${mode}/${containers}`] ??= []).push(await create(namespace, containers, mode));
            }
          }
        }
      }
      return samples;
    };

    // No policy at all.
    const unbound = await measure([['none', CHECKED]]);

    // The policy bound (as the chart binds it), enforcing in CHECKED and exempting EXEMPT.
    const chart = Testing.chart();
    new TrustedImagePolicy(chart, 'Policy', { trustedSources: ['registry.mycorp.local'], exemptNamespaces: ['kube-system', EXEMPT] });
    for (const manifest of Testing.synth(chart) as any[]) {
      const plural = manifest.kind === 'ValidatingAdmissionPolicy' ? 'validatingadmissionpolicies' : 'validatingadmissionpolicybindings';
      await client.expectOk('POST', `/apis/admissionregistration.k8s.io/v1/${plural}`, { body: manifest });
    }
    await client.waitFor('the policy to be in force', async () => {
      const refused = await client.request('POST', `/api/v1/namespaces/${CHECKED}/pods?dryRun=All`, { body: { ...pod('probe', 1), spec: { containers: [{ name: 'c', image: 'nginx' }] } } });
      return refused.status === 422 && /ValidatingAdmissionPolicy/.test(refused.body.message);
    });
    const bound = await measure([['policy', CHECKED], ['exempt', EXEMPT]]);

    console.log(JSON.stringify({ version, samples: SAMPLES, warmUp: WARM_UP, containerCounts: CONTAINER_COUNTS, ms: { ...unbound, ...bound } }));
  } finally {
    client.close();
    plane.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
