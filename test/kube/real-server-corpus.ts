import { randomUUID } from 'crypto';
import { readFileSync } from 'fs';
import { PolicyMode } from '../../src';
import { AdmissionCase } from '../policy/admission-corpus';
import { AdmissionRequest, AdmissionResult, AdmissionSimulator } from '../policy/admission-harness';
import { Manifest } from '../util/manifests';
import { collectionPath, describeWithKube, KubeClient, KubeResponse, useExclusiveCluster } from './kube-fixture';
import { KubeCluster } from './versions';

// Every case of an admission corpus (e.g. test/policy/admission-corpus.ts, whatever it holds) sent to a
// real API server as a real request: CREATE as POST, UPDATE as a strategic-merge PATCH of an
// object created beforehand (so the server compares with the stored object), the
// pods/ephemeralcontainers subresource as `kubectl debug` sends it (PATCH), DELETE as DELETE.
// Three phases on the same requests: no policy bound (what the server refuses by itself), the
// policy enforcing, the policy auditing. The JS harness must give exactly the server's verdict,
// denial, warnings and audit annotation.

const POLICIES = '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies';
const BINDINGS = '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings';
const VALIDATION_FAILURE_ANNOTATION = 'validation.policy.admission.k8s.io/validation_failure';
/** The part of an API server's refusal a ValidatingAdmissionPolicy wrote (the harness's `denial`). */
export const POLICY_MESSAGE = /ValidatingAdmissionPolicy '[^']+' with binding '[^']+' denied request: .*$/s;
const POLICY_WARNING = /^Validation failed for ValidatingAdmissionPolicy /;

type Phase = 'baseline' | 'enforce' | 'audit';

/** What the real server answered. */
interface RealOutcome {
  readonly status: number;
  readonly admitted: boolean;
  readonly message?: string;
  /** Why the server refused, without generated names: status, reason and each cause's field and reason. */
  readonly refusal?: string;
  readonly warnings: string[];
  readonly auditId: string;
  /** The object the server stored (or, on a dry run, would have stored). */
  readonly object?: unknown;
}

/** A corpus and the policies it is about. */
export interface RealServerCorpus {
  readonly title: string;
  readonly cases: readonly AdmissionCase[];
  /** The ValidatingAdmissionPolicies and bindings (admissionregistration.k8s.io/v1) in a mode. */
  readonly manifests: (mode: PolicyMode) => Manifest[];
  /** A valid request the policies refuse: shows when a phase's policies are in force (or gone). */
  readonly probe: AdmissionRequest;
}

/** The corpus cases this cluster can judge: all but those needing a feature it lacks. */
function applicableCases(cluster: KubeCluster, corpus: readonly AdmissionCase[]): Array<{ index: number; admissionCase: AdmissionCase }> {
  return corpus.map((admissionCase, index) => ({ index, admissionCase }))
    .filter(({ admissionCase }) => !(usesImageVolumes(admissionCase.request) && !cluster.featureGates.includes('ImageVolume=true')));
}

/** Image volumes exist from Kubernetes 1.31 (feature gate ImageVolume); earlier servers drop the field. */
function usesImageVolumes(request: AdmissionRequest): boolean {
  return JSON.stringify([request.object, request.oldObject]).includes('"image":{');
}

/** The case's objects under a name of their own (corpus objects share names), in the request's namespace. */
function renamed(request: AdmissionRequest, name: string): AdmissionRequest {
  const rename = (object: any) => (object && typeof object === 'object'
    ? { ...object, metadata: { ...object.metadata, name, namespace: request.namespace } }
    : object);
  return { ...request, object: rename(request.object), oldObject: rename(request.oldObject) };
}

/**
 * The strategic-merge patch that turns the case's oldObject into its object on the server, as
 * `kubectl apply` computes it: named list items (containers, volumes...) merge by name, so the
 * items the new object no longer has are deleted explicitly (a plain patch would keep them and
 * the server would judge another object than the harness); finalizers likewise; fields the new
 * object drops are set to null. Fields only the server set (defaults, the token volume) stay.
 */
function strategicMergePatch(oldValue: any, newValue: any): any {
  const patch: Record<string, unknown> = {};
  const isNamed = (item: unknown) => item !== null && typeof item === 'object' && typeof (item as any).name === 'string';
  for (const [key, value] of Object.entries(newValue)) {
    const old = oldValue?.[key];
    if (Array.isArray(value) && Array.isArray(old) && value.every(isNamed) && old.every(isNamed)) {
      const kept = new Set(value.map((item: any) => item.name));
      patch[key] = [...value, ...old.filter((item: any) => !kept.has(item.name)).map((item: any) => ({ name: item.name, $patch: 'delete' }))];
    } else if (key === 'finalizers' && Array.isArray(old)) {
      patch[key] = value;
      patch[`$deleteFromPrimitiveList/${key}`] = old.filter((item: unknown) => !(value as unknown[]).includes(item));
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && old !== null && typeof old === 'object' && !Array.isArray(old)) {
      patch[key] = strategicMergePatch(old, value);
    } else {
      patch[key] = value;
    }
  }
  for (const key of Object.keys(oldValue ?? {})) {
    if (!(key in newValue)) patch[key] = null;
  }
  return patch;
}

/** Pods carry the spec directly, CronJobs two templates down, every other workload in `spec.template`. */
function podSpecOf(object: any): any {
  if (object?.kind === 'Pod') return object.spec;
  if (object?.kind === 'CronJob') return object.spec?.jobTemplate?.spec?.template?.spec;
  return object?.spec?.template?.spec;
}

/** Every image slot of an object, in order: `<list>/<item name>=<image>`, as the policy's UPDATE check sees them. */
function imageSlots(object: unknown): string[] {
  const spec = podSpecOf(object) ?? {};
  return ['containers', 'initContainers', 'ephemeralContainers', 'volumes'].flatMap((list) => ((spec[list] ?? []) as any[])
    .filter((item) => list !== 'volumes' || item?.image !== undefined)
    .map((item) => `${list}/${item?.name}=${list === 'volumes' ? item.image?.reference : item?.image}`));
}

function objectPath(request: AdmissionRequest, name: string): string {
  return `${collectionPath(request.resource, request.namespace)}/${name}`;
}

/** Sends one corpus request as the API call that produces it. */
async function send(client: KubeClient, request: AdmissionRequest, name: string, dryRun: boolean): Promise<RealOutcome> {
  const auditId = randomUUID();
  const query = `?fieldValidation=Ignore${dryRun ? '&dryRun=All' : ''}`;
  const headers = { 'Audit-ID': auditId };
  const patch = 'application/strategic-merge-patch+json';
  let response: KubeResponse;
  if (request.operation === 'CREATE' && !request.subResource) {
    response = await client.request('POST', `${collectionPath(request.resource, request.namespace)}${query}`, { body: request.object, headers });
  } else if (request.operation === 'UPDATE' && request.subResource === 'ephemeralcontainers') {
    // What `kubectl debug` sends.
    const body = { spec: { ephemeralContainers: (request.object as any).spec.ephemeralContainers } };
    response = await client.request('PATCH', `${objectPath(request, name)}/ephemeralcontainers${query}`, { body, contentType: patch, headers });
  } else if (request.operation === 'UPDATE') {
    const sub = request.subResource ? `/${request.subResource}` : '';
    response = await client.request('PATCH', `${objectPath(request, name)}${sub}${query}`, { body: strategicMergePatch(request.oldObject, request.object), contentType: patch, headers });
  } else if (request.operation === 'DELETE') {
    response = await client.request('DELETE', `${objectPath(request, name)}${query}`, { headers });
  } else {
    throw new Error(`no API call produces ${request.operation}${request.subResource ? ` of ${request.subResource}` : ''}`);
  }
  const admitted = response.status >= 200 && response.status <= 299;
  const causes = ((response.body?.details?.causes ?? []) as Array<{ field?: string; reason?: string }>).map((cause) => `${cause.field ?? ''}: ${cause.reason ?? ''}`);
  return {
    status: response.status,
    admitted,
    message: admitted ? undefined : String(response.body?.message ?? response.body),
    refusal: admitted ? undefined : [`${response.status} ${response.body?.reason ?? ''}`, ...causes].join('; '),
    warnings: response.warnings,
    auditId,
    object: admitted ? response.body : undefined,
  };
}

/** Deletes what a request left behind, without waiting (dropping finalizers the corpus gave it first). */
async function cleanUp(client: KubeClient, request: AdmissionRequest, name: string): Promise<void> {
  if ((request.oldObject as any)?.metadata?.finalizers) {
    await client.request('PATCH', objectPath(request, name), { body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json' });
  }
  await client.request('DELETE', `${objectPath(request, name)}?propagationPolicy=Background&gracePeriodSeconds=0`);
}

const pathOf = (manifest: Manifest) => (manifest.kind === 'ValidatingAdmissionPolicy' ? POLICIES : BINDINGS);

/** Error texts differ between CEL engines (cel-go vs JS); the expression that failed does not. */
function normalizeErrors(text: string): string {
  return text.replace(/(resulted in error: ).*$/s, '$1<error>');
}

/** The comparable part of an admission outcome. */
function verdict(allowed: boolean, denial: string | undefined, warnings: string[]) {
  return {
    allowed,
    denial: denial === undefined ? undefined : normalizeErrors(denial),
    policyWarnings: warnings.filter((w) => POLICY_WARNING.test(w)).map(normalizeErrors),
  };
}

function realVerdict(outcome: RealOutcome) {
  const denial = outcome.admitted ? undefined : POLICY_MESSAGE.exec(outcome.message ?? '')?.[0] ?? `(not the policy) ${outcome.status}: ${outcome.message}`;
  return verdict(outcome.admitted, denial, outcome.warnings);
}

function harnessVerdict(result: AdmissionResult) {
  return verdict(result.allowed, result.denial, result.warnings);
}

/** The audit event of one request, once the API server has written it. */
async function auditEvent(cluster: KubeCluster, auditId: string): Promise<any> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const line = readFileSync(cluster.auditLog, 'utf-8').split('\n').find((l) => l.includes(auditId) && l.includes('"ResponseComplete"'));
    if (line) return JSON.parse(line);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no audit event ${auditId} in ${cluster.auditLog}`);
}

/**
 * The corpus through a real API server of every running version, in three phases (no policy,
 * enforce, audit), each case's outcome compared with the JS harness's.
 */
export function describeCorpusOnRealServer(corpus: RealServerCorpus): void {
  const policyManifests = corpus.manifests;
  // One pair for every version: the simulators share one cel-js worker, which close() ends.
  let simulatorPair: { enforce: AdmissionSimulator; audit: AdmissionSimulator } | undefined;
  const simulators = () => (simulatorPair ??= { enforce: new AdmissionSimulator(policyManifests(PolicyMode.ENFORCE)), audit: new AdmissionSimulator(policyManifests(PolicyMode.AUDIT)) });
  afterAll(() => simulatorPair?.enforce.close());

  describeWithKube(corpus.title, (cluster) => {
    const client = useExclusiveCluster(cluster);
    const cases = applicableCases(cluster, corpus.cases);
    const results: Record<Phase, Map<number, RealOutcome>> = { baseline: new Map(), enforce: new Map(), audit: new Map() };
    const nameOf = (index: number, phase: Phase) => `corpus-${index}-${phase}`;
    const probe = corpus.probe;

    /** Waits until the probe shows `phase`'s policy (or none) in force. */
    async function awaitPhase(phase: Phase): Promise<void> {
      await client.waitFor(`the ${phase} phase's policy to be in force`, async () => {
        const outcome = await send(client, renamed(probe, 'probe'), 'probe', true);
        const policyWarned = outcome.warnings.some((w) => POLICY_WARNING.test(w));
        if (phase === 'baseline') return outcome.admitted && !policyWarned;
        if (phase === 'enforce') return !outcome.admitted && POLICY_MESSAGE.test(outcome.message ?? '');
        return outcome.admitted && policyWarned;
      });
    }

    async function unbind(): Promise<void> {
      for (const manifest of [...policyManifests(PolicyMode.ENFORCE)].reverse()) await client.request('DELETE', `${pathOf(manifest)}/${manifest.metadata.name}`);
    }

    async function runPhase(phase: Phase): Promise<void> {
      await unbind();
      if (phase !== 'baseline') {
        for (const manifest of policyManifests(phase === 'enforce' ? PolicyMode.ENFORCE : PolicyMode.AUDIT)) {
          await client.expectOk('POST', pathOf(manifest), { body: manifest });
        }
      }
      await awaitPhase(phase);
      for (const { index, admissionCase } of cases) {
        const name = nameOf(index, phase);
        results[phase].set(index, await send(client, renamed(admissionCase.request, name), name, phase === 'baseline'));
        if (phase !== 'baseline') await cleanUp(client, admissionCase.request, name);
      }
    }

    beforeAll(async () => {
      await unbind();
      const namespaces = new Map<string, Record<string, string>>([[probe.namespace, { ...probe.namespaceLabels }]]);
      cases.forEach(({ admissionCase: { request } }) => namespaces.set(request.namespace, { ...namespaces.get(request.namespace), ...request.namespaceLabels }));
      for (const [namespace, labels] of namespaces) {
        await client.ensureNamespace(namespace, labels);
        // Pods are admitted only once the namespace's default ServiceAccount exists.
        await client.waitFor(`ServiceAccount ${namespace}/default`, async () => (await client.request('GET', `/api/v1/namespaces/${namespace}/serviceaccounts/default`)).status === 200);
      }
      // The objects UPDATE and DELETE cases change, created while no policy is bound (some hold images the policy refuses).
      for (const phase of ['baseline', 'enforce', 'audit'] as Phase[]) {
        for (const { index, admissionCase: { request } } of cases.filter(({ admissionCase }) => admissionCase.request.oldObject !== undefined)) {
          const old = renamed(request, nameOf(index, phase));
          await client.expectOk('POST', collectionPath(request.resource, request.namespace), { body: old.oldObject });
        }
      }
      for (const phase of ['baseline', 'enforce', 'audit'] as Phase[]) await runPhase(phase);
      await unbind();
      // About a minute per version on 2 cores; a generous bound, not a target.
    }, 30 * 60_000);

    afterAll(async () => {
      for (const phase of ['baseline', 'enforce', 'audit'] as Phase[]) {
        for (const { index, admissionCase } of cases) await cleanUp(client, admissionCase.request, nameOf(index, phase));
      }
    }, 300_000);

    test('the server refuses by itself (before any policy) only objects the corpus calls refused', () => {
      const refusedByServer = cases.filter(({ index }) => !results.baseline.get(index)!.admitted);
      // Printed so that a reader sees which cases never reach the policy on a real server.
      console.log(`Kubernetes v${cluster.version}: refused before admission (object validation or decoding):\n${refusedByServer.map(({ index, admissionCase }) => `- ${admissionCase.name}: ${results.baseline.get(index)!.status} ${results.baseline.get(index)!.message}`).join('\n')}`);
      expect(refusedByServer.filter(({ admissionCase }) => admissionCase.decision !== 'refuse').map(({ admissionCase }) => admissionCase.name)).toEqual([]);
      // Most cases must reach the policy, or this tier proves little.
      expect(refusedByServer.length).toBeLessThan(cases.length / 5);
    });

    test('every corpus case runs here, but those needing a feature this version lacks', () => {
      const skipped = corpus.cases.filter((c) => !cases.some(({ admissionCase }) => admissionCase === c));
      expect(skipped.every((c) => usesImageVolumes(c.request))).toBe(true);
      if (cluster.featureGates.includes('ImageVolume=true')) expect(skipped).toEqual([]);
    });

    test('every UPDATE the server lets through is of the object the harness judges (the same image slots)', () => {
      // The baseline phase is a dry run with no policy: the server answers with the object it would
      // store, which is what the policy sees in the later phases.
      const updates = cases.filter(({ admissionCase }) => admissionCase.request.operation === 'UPDATE');
      expect(updates.length).toBeGreaterThan(0);
      const judged = updates.filter(({ index }) => results.baseline.get(index)!.admitted);
      expect(judged.map(({ index, admissionCase }) => [admissionCase.name, imageSlots(results.baseline.get(index)!.object)]))
        .toEqual(judged.map(({ admissionCase }) => [admissionCase.name, imageSlots(admissionCase.request.object)]));
      // A pod's spec is immutable but for images, so some smuggling attempts stop there; the rest must reach the policy.
      expect(judged.length).toBeGreaterThan(updates.length / 2);
    });

    describe.each(cases.map(({ index, admissionCase }) => [admissionCase.decision, admissionCase.name, index, admissionCase] as const))('%s: %s', (_decision, _name, index, admissionCase) => {
      const rejectedBeforeAdmission = () => !results.baseline.get(index)!.admitted;
      /** Why the server refused in a phase (messages hold generated names, which differ by phase). */
      const refusal = (phase: Phase) => results[phase].get(index)!.refusal;

      test('enforce: the harness gives the real server\'s verdict and denial', () => {
        const real = results.enforce.get(index)!;
        if (rejectedBeforeAdmission()) {
          // The server refuses the object itself (validation, decoding) before any policy sees it:
          // the same refusal as with no policy, and the corpus must call it refused.
          expect(refusal('enforce')).toBe(refusal('baseline'));
          expect(admissionCase.decision).toBe('refuse');
          return;
        }
        const harness = simulators().enforce.review(renamed(admissionCase.request, nameOf(index, 'enforce')));
        expect(harnessVerdict(harness)).toEqual(realVerdict(real));
        expect(real.admitted).toBe(admissionCase.decision === 'admit');
      });

      test('audit: the harness gives the real server\'s warnings and audit annotation', async () => {
        const real = results.audit.get(index)!;
        if (rejectedBeforeAdmission()) {
          expect(refusal('audit')).toBe(refusal('baseline'));
          return;
        }
        const harness = simulators().audit.review(renamed(admissionCase.request, nameOf(index, 'audit')));
        expect(harnessVerdict(harness)).toEqual(realVerdict(real));
        expect(real.admitted).toBe(true);
        const annotations = (await auditEvent(cluster, real.auditId)).annotations ?? {};
        const parse = (value: string | undefined) => (value === undefined ? undefined : JSON.parse(value).map((failure: any) => ({ ...failure, message: normalizeErrors(failure.message) })));
        expect(parse(harness.auditAnnotations[VALIDATION_FAILURE_ANNOTATION])).toEqual(parse(annotations[VALIDATION_FAILURE_ANNOTATION]));
      });
    });
  });
}
