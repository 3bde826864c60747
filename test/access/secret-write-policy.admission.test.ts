import { AdmissionSimulator } from '../policy/admission-harness';
import { SECRET_WRITE_CORPUS, secretWriteCorpusManifests } from './secret-write-corpus';

// Every corpus request against the synthesized SecretWritePolicy objects, evaluated by two CEL engines.

const simulator = new AdmissionSimulator(secretWriteCorpusManifests());
afterAll(() => simulator.close());

test('the corpus covers both decisions and both ServiceAccounts', () => {
  expect(new Set(SECRET_WRITE_CORPUS.map((c) => c.name)).size).toBe(SECRET_WRITE_CORPUS.length);
  expect(SECRET_WRITE_CORPUS.filter((c) => c.decision === 'admit').length).toBeGreaterThanOrEqual(8);
  expect(SECRET_WRITE_CORPUS.filter((c) => c.decision === 'refuse').length).toBeGreaterThanOrEqual(15);
  SECRET_WRITE_CORPUS.filter((c) => c.decision === 'refuse').forEach((c) => expect(c.reason).toBeDefined());
});

describe.each(SECRET_WRITE_CORPUS.map((c) => [c.decision, c.name, c] as const))('%s: %s', (_decision, _name, admissionCase) => {
  test(admissionCase.why, () => {
    // GIVEN the chart's policies / WHEN the request arrives
    const result = simulator.review(admissionCase.request);

    // THEN
    if (admissionCase.decision === 'admit') {
      expect(result).toMatchObject({ allowed: true, warnings: [] });
    } else {
      expect(result.allowed).toBe(false);
      expect(result.denial).toMatch(/^ValidatingAdmissionPolicy '[a-z0-9.-]+\.registry\.secret-writes\.cdk8s-trusted-registry\.io' with binding '[a-z0-9.-]+' denied request: /);
      expect(result.denial).toContain(admissionCase.reason);
    }
  });
});
