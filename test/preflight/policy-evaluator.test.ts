import { Testing } from 'cdk8s';
import { PolicyMode, TrustedImagePolicy } from '../../src';
import { PolicyEvaluator } from '../../src/preflight/policy-evaluator';
import { CORPUS, CORPUS_POLICY } from '../policy/admission-corpus';
import { AdmissionResult, AdmissionSimulator, roundTripYaml } from '../policy/admission-harness';

// The evaluator shipped in the package (src/preflight) must reach the decision the test harness
// reaches with two independent CEL engines, on every corpus request: preflight then reports what
// the admission tests prove.

function manifestsFor(mode: PolicyMode): unknown[] {
  const chart = Testing.chart();
  new TrustedImagePolicy(chart, 'TrustedImages', { ...CORPUS_POLICY, mode });
  return roundTripYaml(Testing.synth(chart));
}

/** The evaluator's outcome in the harness's terms. */
function decide(evaluator: PolicyEvaluator, request: Parameters<AdmissionSimulator['review']>[0]): Pick<AdmissionResult, 'allowed' | 'denial' | 'warnings' | 'evaluatedPolicies'> {
  const evaluated = evaluator.evaluate(request);
  const violations = evaluated.flatMap((policy) => policy.violations);
  const denials = violations.filter((v) => v.validationActions.includes('Deny'))
    .map((v) => `ValidatingAdmissionPolicy '${v.policy}' with binding '${v.binding}' denied request: ${v.message}`);
  const warnings = violations.filter((v) => v.validationActions.includes('Warn'))
    .map((v) => `Validation failed for ValidatingAdmissionPolicy '${v.policy}' with binding '${v.binding}': ${v.message}`);
  return { allowed: denials.length === 0, denial: denials[0], warnings, evaluatedPolicies: evaluated.map((p) => p.policy) };
}

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
    // THEN
    expect(actual).toEqual({ allowed: expected.allowed, denial: expected.denial, warnings: expected.warnings, evaluatedPolicies: expected.evaluatedPolicies });
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
