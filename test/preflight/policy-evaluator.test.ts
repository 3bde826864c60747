import { Testing } from 'cdk8s';
import { PolicyMode, TrustedImagePolicy } from '../../src';
import { PolicyEvaluator } from '../../src/preflight/policy-evaluator';
import { CORPUS, CORPUS_POLICY } from '../policy/admission-corpus';
import { AdmissionResult, AdmissionSimulator, roundTripYaml, warningHeaders } from '../policy/admission-harness';

// The evaluator shipped in the package (src/preflight) must reach the decision the test harness
// reaches with two independent CEL engines (and test/kube, the real API server), on every corpus
// request: preflight then reports what the admission tests prove. The evaluator reports every
// violation; the API server delivers some as no Warning header at all (warningHeaders), and
// records the first in the audit annotation.

const VALIDATION_FAILURE_ANNOTATION = 'validation.policy.admission.k8s.io/validation_failure';

function manifestsFor(mode: PolicyMode): unknown[] {
  const chart = Testing.chart();
  new TrustedImagePolicy(chart, 'TrustedImages', { ...CORPUS_POLICY, mode });
  return roundTripYaml(Testing.synth(chart));
}

/** The evaluator's outcome in the harness's terms. */
function decide(evaluator: PolicyEvaluator, request: Parameters<AdmissionSimulator['review']>[0]): Omit<AdmissionResult, 'denial'> & { denial: string | undefined } {
  const evaluated = evaluator.evaluate(request);
  const violations = evaluated.flatMap((policy) => policy.violations);
  const denials = violations.filter((v) => v.validationActions.includes('Deny'))
    .map((v) => `ValidatingAdmissionPolicy '${v.policy}' with binding '${v.binding}' denied request: ${v.message}`);
  const warnings = violations.filter((v) => v.validationActions.includes('Warn'))
    .map((v) => `Validation failed for ValidatingAdmissionPolicy '${v.policy}' with binding '${v.binding}': ${v.message}`);
  const audited = violations.filter((v) => v.validationActions.includes('Audit')).slice(0, 1)
    .map(({ message, policy, binding, expressionIndex, validationActions }) => ({ message, policy, binding, expressionIndex, validationActions }));
  return {
    allowed: denials.length === 0,
    denial: denials[0],
    warnings: warningHeaders(warnings),
    auditAnnotations: audited.length === 0 ? {} : { [VALIDATION_FAILURE_ANNOTATION]: JSON.stringify(audited) },
    evaluatedPolicies: evaluated.map((p) => p.policy),
  };
}

/** Whether preflight would list the request as refused: any violation, whatever the binding's actions. */
const reportsRefusal = (evaluator: PolicyEvaluator, request: Parameters<AdmissionSimulator['review']>[0]) =>
  evaluator.evaluate(request).some((policy) => policy.violations.length > 0);

const simulators: AdmissionSimulator[] = [];
afterAll(() => simulators[0]?.close());

describe.each([PolicyMode.ENFORCE, PolicyMode.AUDIT])('%s', (mode) => {
  const manifests = manifestsFor(mode);
  const evaluator = new PolicyEvaluator(manifests);
  const simulator = new AdmissionSimulator(manifests);
  simulators.push(simulator);

  test.each(CORPUS.map((c) => [c.name, c] as const))('%s: same decision and message as the two-engine harness', (_name, admissionCase) => {
    // WHEN both judge the request
    const expected = simulator.review(admissionCase.request);
    const actual = decide(evaluator, admissionCase.request);
    // THEN the server's answer, and preflight lists it as refused exactly when the corpus says enforce refuses it
    expect(actual).toEqual({ ...expected, denial: expected.denial });
    const exempt = expected.evaluatedPolicies.length === 0;
    expect(reportsRefusal(evaluator, admissionCase.request)).toBe(!exempt && admissionCase.decision === 'refuse');
  });
});

describe('what preflight reports where the server refuses or stays silent', () => {
  const evaluator = new PolicyEvaluator(manifestsFor(PolicyMode.AUDIT));
  const enforcing = new PolicyEvaluator(manifestsFor(PolicyMode.ENFORCE));
  const caseNamed = (name: string) => CORPUS.find((c) => c.name === name)!.request;

  test('a pod past the CEL cost limit is refused, failing closed as on the API server', () => {
    for (const name of ['4,000 good containers', 'a 400,000-character good image']) {
      const [policy] = enforcing.evaluate(caseNamed(name));
      expect(policy.violations.map((v) => v.message)).toEqual([
        "expression 'size(variables.unpinnedImages) == 0' resulted in error: variables.unpinnedImages: operation cancelled: actual cost limit exceeded",
      ]);
    }
    // and the same images in fewer containers pass
    expect(enforcing.evaluate(caseNamed('250 good containers'))[0].violations).toEqual([]);
  });

  test('an image with a tab is reported in audit mode although the server sends no warning for it', () => {
    // GIVEN the request whose warning a Warning header cannot carry
    const request = caseNamed('tab inside');
    // WHEN
    const [policy] = evaluator.evaluate(request);
    // THEN the violation is there for preflight, though the client sees no warning
    expect(policy.violations.map((v) => v.message)).toEqual([expect.stringContaining('refused: "registry.mycorp.local/team/app\t@sha256:')]);
    expect(decide(evaluator, request).warnings).toEqual([]);
  });
});

describe('PolicyEvaluator', () => {
  const evaluator = new PolicyEvaluator(manifestsFor(PolicyMode.ENFORCE));

  test('exposes the policy\'s variables as plain data', () => {
    // WHEN a pod with one untrusted and one unpinned image is evaluated
    const [policy] = evaluator.evaluate({
      operation: 'CREATE',
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'apps',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'nginx' }, { name: 'b', image: 'registry.mycorp.local/app:v1' }] } },
    });
    // THEN
    expect(policy.variable('untrustedImages')).toEqual(['nginx']);
    expect(policy.variable('unpinnedImages')).toEqual(['nginx', 'registry.mycorp.local/app:v1']);
    expect(policy.variable('nothing')).toBeUndefined();
  });

  test('fails if the manifests hold no policy, or a binding names a missing one', () => {
    expect(() => new PolicyEvaluator([])).toThrow('the manifests hold no ValidatingAdmissionPolicy or no ValidatingAdmissionPolicyBinding');
    const binding = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: 'b' }, spec: { policyName: 'missing' } };
    const policy = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: 'p' }, spec: {} };
    expect(() => new PolicyEvaluator([policy, binding])).toThrow('ValidatingAdmissionPolicyBinding b names policy missing, which the manifests do not hold');
  });
});
