import { Testing } from 'cdk8s';
import { PolicyMode, TrustedImagePolicy } from '../../src';
import { CORPUS, CORPUS_POLICY } from './admission-corpus';
import { AdmissionSimulator } from './admission-harness';

// Every corpus request against the synthesized policy, in both modes, evaluated by two CEL engines.

function simulatorFor(mode: PolicyMode): AdmissionSimulator {
  const chart = Testing.chart();
  new TrustedImagePolicy(chart, 'TrustedImages', { ...CORPUS_POLICY, mode });
  return new AdmissionSimulator(Testing.synth(chart));
}

const enforce = simulatorFor(PolicyMode.ENFORCE);
const audit = simulatorFor(PolicyMode.AUDIT);
afterAll(() => enforce.close());

test('the corpus is large and covers both decisions', () => {
  expect(CORPUS.length).toBeGreaterThanOrEqual(60);
  expect(new Set(CORPUS.map((c) => c.name)).size).toBe(CORPUS.length);
  expect(CORPUS.filter((c) => c.decision === 'admit').length).toBeGreaterThan(10);
  CORPUS.filter((c) => c.decision === 'refuse').forEach((c) => expect(c.reason).toBeDefined());
});

describe.each(CORPUS.map((c) => [c.decision, c.name, c] as const))('%s: %s', (_decision, _name, admissionCase) => {
  test(`enforce (${admissionCase.why})`, () => {
    // GIVEN the enforcing policy / WHEN the request arrives
    const result = enforce.review(admissionCase.request);
    // THEN
    if (admissionCase.decision === 'admit') {
      expect(result).toMatchObject({ allowed: true, warnings: [], auditAnnotations: {} });
    } else {
      expect(result.allowed).toBe(false);
      expect(result.denial).toMatch(/^ValidatingAdmissionPolicy 'trusted-images' with binding 'trusted-images' denied request: /);
      expect(result.denial).toContain(admissionCase.reason);
      expect(result.warnings).toEqual([]);
    }
  });

  test(`audit (${admissionCase.why})`, () => {
    // GIVEN the auditing policy / WHEN the request arrives
    const result = audit.review(admissionCase.request);
    // THEN it is always admitted, with a warning and an audit record where enforce would deny
    expect(result.allowed).toBe(true);
    if (admissionCase.decision === 'admit') {
      expect(result).toMatchObject({ warnings: [], auditAnnotations: {} });
    } else {
      const failures = JSON.parse(result.auditAnnotations['validation.policy.admission.k8s.io/validation_failure']);
      expect(failures[0]).toMatchObject({ policy: 'trusted-images', binding: 'trusted-images', validationActions: ['Warn', 'Audit'] });
      // A message quoting a control character (e.g. a tab in the image) cannot travel in a Warning header: the audit record is all there is.
      const sendable = !/\p{Cc}/u.test(failures[0].message);
      expect(result.warnings.length > 0).toBe(sendable);
      if (sendable) {
        expect(result.warnings[0]).toMatch(/^Validation failed for ValidatingAdmissionPolicy 'trusted-images' with binding 'trusted-images': /);
        expect(result.warnings[0]).toContain(admissionCase.reason);
      } else {
        expect(failures[0].message).toContain(admissionCase.reason);
      }
    }
  });
});

test('exempt namespaces are not evaluated at all', () => {
  const exempt = CORPUS.find((c) => c.name === 'exempt kube-system with Docker Hub image')!;
  expect(enforce.review(exempt.request).evaluatedPolicies).toEqual([]);
  const lookalike = CORPUS.find((c) => c.name === 'namespace kube-system2')!;
  expect(enforce.review(lookalike.request).evaluatedPolicies).toEqual(['trusted-images']);
});

test('an image that is both untrusted and unpinned is reported by both validations', () => {
  // GIVEN a Docker Hub short name in audit mode, where every violation becomes a warning
  const result = audit.review(CORPUS.find((c) => c.name === 'Docker Hub short name')!.request);
  // THEN
  expect(result.warnings).toEqual([
    "Validation failed for ValidatingAdmissionPolicy 'trusted-images' with binding 'trusted-images': images must come from a trusted registry (mirror.mycorp.local/team-a/, registry.mycorp.local/), refused: \"nginx\"",
    "Validation failed for ValidatingAdmissionPolicy 'trusted-images' with binding 'trusted-images': images must be pinned by digest (name[:tag]@sha256:<64 lowercase hex>), refused: \"nginx\"",
  ]);
});
