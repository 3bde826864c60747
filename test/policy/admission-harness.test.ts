import { AdmissionRequest, AdmissionSimulator, warningHeaders } from './admission-harness';

// The harness's own semantics, checked against small hand-written policies so the corpus tests
// can rely on it.

const POD = { group: '', version: 'v1', resource: 'pods' };

function policy(spec: object, name = 'test-policy') {
  return { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name }, spec };
}

function binding(spec: object, name = 'test-binding') {
  return { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name }, spec: { policyName: 'test-policy', validationActions: ['Deny'], ...spec } };
}

const podRules = (resources: string[]) => ({ resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources }] });

function podRequest(overrides: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return { operation: 'CREATE', resource: POD, namespace: 'apps', object: { kind: 'Pod', metadata: { name: 'p', labels: { team: 'a' } }, spec: { value: 1 } }, ...overrides };
}

const simulators: AdmissionSimulator[] = [];
function simulator(manifests: object[]): AdmissionSimulator {
  const created = new AdmissionSimulator(manifests);
  simulators.push(created);
  return created;
}
afterAll(() => simulators.forEach((s) => s.close()));

const alwaysDeny = { matchConstraints: podRules(['pods']), validations: [{ expression: 'false', message: 'no' }] };

describe('resource matching', () => {
  test('"pods" matches the main resource but not the ephemeralcontainers subresource', () => {
    // GIVEN a policy on "pods" only
    const sim = simulator([policy(alwaysDeny), binding({})]);
    // WHEN a pod is created, or its ephemeral containers are updated
    const main = sim.review(podRequest());
    const sub = sim.review(podRequest({ operation: 'UPDATE', subResource: 'ephemeralcontainers' }));
    // THEN only the main resource request is evaluated
    expect(main.allowed).toBe(false);
    expect(sub).toEqual({ allowed: true, warnings: [], auditAnnotations: {}, evaluatedPolicies: [] });
  });

  test('"pods/ephemeralcontainers" matches only the subresource; "pods/*" and "*/*" match both', () => {
    for (const [entry, matchesMainResource] of [['pods/ephemeralcontainers', false], ['pods/*', true], ['*/*', true]] as const) {
      // GIVEN a policy naming the subresource (a "*" subresource also matches "", as in the API server's rule matcher)
      const sim = simulator([policy({ ...alwaysDeny, matchConstraints: podRules([entry]) }), binding({})]);
      // WHEN / THEN
      expect(sim.review(podRequest({ operation: 'UPDATE', subResource: 'ephemeralcontainers' })).allowed).toBe(false);
      expect(sim.review(podRequest()).allowed).toBe(!matchesMainResource);
    }
  });

  test('operations, groups and versions must be listed', () => {
    // GIVEN a CREATE-only policy
    const sim = simulator([policy({ ...alwaysDeny, matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] } }), binding({})]);
    // WHEN / THEN UPDATE, DELETE and other groups/versions pass untouched
    expect(sim.review(podRequest()).allowed).toBe(false);
    expect(sim.review(podRequest({ operation: 'UPDATE' })).allowed).toBe(true);
    expect(sim.review(podRequest({ operation: 'DELETE' })).allowed).toBe(true);
    expect(sim.review(podRequest({ resource: { group: 'apps', version: 'v1', resource: 'pods' } })).allowed).toBe(true);
    expect(sim.review(podRequest({ resource: { group: '', version: 'v2', resource: 'pods' } })).allowed).toBe(true);
  });

  test('binding namespaceSelector sees the kubernetes.io/metadata.name label', () => {
    // GIVEN a binding exempting kube-system
    const sim = simulator([policy(alwaysDeny), binding({ matchResources: { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }] } } })]);
    // WHEN / THEN only the exact namespace name is exempt
    expect(sim.review(podRequest({ namespace: 'kube-system' })).allowed).toBe(true);
    expect(sim.review(podRequest({ namespace: 'kube-system2' })).allowed).toBe(false);
  });

  test('objectSelector matches object labels', () => {
    // GIVEN a binding for team b only
    const sim = simulator([policy(alwaysDeny), binding({ matchResources: { objectSelector: { matchLabels: { team: 'b' } } } })]);
    // WHEN / THEN team a's pod is not evaluated
    expect(sim.review(podRequest()).evaluatedPolicies).toEqual([]);
  });
});

describe('evaluation', () => {
  test('variables are exposed as variables.<name> in order', () => {
    // GIVEN variables building on each other
    const sim = simulator([policy({
      matchConstraints: podRules(['pods']),
      variables: [{ name: 'value', expression: 'object.spec.value' }, { name: 'doubled', expression: 'variables.value * 2.0' }],
      validations: [{ expression: 'variables.doubled == 4.0', messageExpression: "'doubled is ' + string(variables.doubled)" }],
    }), binding({})]);
    // WHEN value is 1
    const result = sim.review(podRequest());
    // THEN the messageExpression result is the denial
    expect(result.denial).toBe("ValidatingAdmissionPolicy 'test-policy' with binding 'test-binding' denied request: doubled is 2");
  });

  test('an evaluation error denies under failurePolicy Fail and is ignored under Ignore', () => {
    const spec = (failurePolicy: string) => ({
      failurePolicy,
      matchConstraints: podRules(['pods']),
      variables: [{ name: 'missing', expression: 'object.spec.nothing' }, { name: 'fine', expression: 'true' }],
      validations: [{ expression: 'variables.fine' }, { expression: 'variables.missing == 1.0' }],
    });
    // WHEN the second validation reads a failing variable
    const failed = simulator([policy(spec('Fail')), binding({})]).review(podRequest());
    const ignored = simulator([policy(spec('Ignore')), binding({})]).review(podRequest());
    // THEN Fail rejects naming the variable, Ignore admits
    expect(failed.allowed).toBe(false);
    expect(failed.denial).toMatch(/expression 'variables.missing == 1.0' resulted in error: variables.missing: /);
    expect(ignored.allowed).toBe(true);
  });

  test('messageExpression results that are multi-line, empty or not strings fall back to message', () => {
    for (const messageExpression of ["'two\\nlines'", "'  '", '42']) {
      // GIVEN an unusable messageExpression
      const sim = simulator([policy({ matchConstraints: podRules(['pods']), validations: [{ expression: 'false', message: 'static', messageExpression }] }), binding({})]);
      // WHEN / THEN the static message is used
      expect(sim.review(podRequest()).denial).toMatch(/denied request: static$/);
    }
  });

  test('without any message the expression is quoted', () => {
    const sim = simulator([policy({ matchConstraints: podRules(['pods']), validations: [{ expression: ' 1 == 2 ' }] }), binding({})]);
    expect(sim.review(podRequest()).denial).toMatch(/denied request: failed expression: 1 == 2$/);
  });

  test('a false matchCondition skips the policy; an erroring one denies under Fail', () => {
    const spec = (expression: string) => ({ ...alwaysDeny, matchConditions: [{ name: 'c', expression }] });
    expect(simulator([policy(spec("object.metadata.name == 'other'")), binding({})]).review(podRequest()).allowed).toBe(true);
    expect(simulator([policy(spec("object.metadata.name == 'p'")), binding({})]).review(podRequest()).allowed).toBe(false);
    expect(simulator([policy(spec('object.metadata.nothing')), binding({})]).review(podRequest()).allowed).toBe(false);
  });

  test('null fields are dropped like the API server decoding does', () => {
    // GIVEN a policy testing for a field that is null in the request
    const sim = simulator([policy({ matchConstraints: podRules(['pods']), validations: [{ expression: '!has(object.spec.gone) && object.spec.items[0] == {}' }] }), binding({})]);
    // WHEN / THEN the field is absent and the null item an empty object
    expect(sim.review(podRequest({ object: { kind: 'Pod', spec: { gone: null, items: [null] } } })).allowed).toBe(true);
  });
});

describe('validationActions', () => {
  const failing = { matchConstraints: podRules(['pods']), validations: [{ expression: 'true' }, { expression: 'false', message: 'bad pod' }] };

  test('Warn and Audit admit with a warning and an audit annotation', () => {
    // GIVEN an audit-only binding
    const sim = simulator([policy(failing), binding({ validationActions: ['Warn', 'Audit'] })]);
    // WHEN the validation fails
    const result = sim.review(podRequest());
    // THEN the request is admitted and reported
    expect(result).toEqual({
      allowed: true,
      warnings: ["Validation failed for ValidatingAdmissionPolicy 'test-policy' with binding 'test-binding': bad pod"],
      auditAnnotations: {
        'validation.policy.admission.k8s.io/validation_failure': JSON.stringify([{ message: 'bad pod', policy: 'test-policy', binding: 'test-binding', expressionIndex: 1, validationActions: ['Warn', 'Audit'] }]),
      },
      evaluatedPolicies: ['test-policy'],
    });
  });

  test('Deny rejects', () => {
    const result = simulator([policy(failing), binding({})]).review(podRequest());
    expect(result).toEqual({
      allowed: false,
      denial: "ValidatingAdmissionPolicy 'test-policy' with binding 'test-binding' denied request: bad pod",
      warnings: [],
      auditAnnotations: {},
      evaluatedPolicies: ['test-policy'],
    });
  });
});

describe('engine cross-check', () => {
  test('throws when the engines disagree', () => {
    // GIVEN an RE2-only inline flag, which JavaScript regular expressions reject
    const sim = simulator([policy({ matchConstraints: podRules(['pods']), validations: [{ expression: "'ABC'.matches('(?i)abc')" }] }), binding({})]);
    // WHEN / THEN the disagreement surfaces instead of a decision
    expect(() => sim.review(podRequest())).toThrow(/CEL engines disagree/);
  });

  test('manifests without a policy are refused', () => {
    expect(() => new AdmissionSimulator([binding({})])).toThrow(/no ValidatingAdmissionPolicy/);
  });

  test('a binding naming a missing policy is refused', () => {
    const sim = simulator([policy(alwaysDeny, 'other'), binding({})]);
    expect(() => sim.review(podRequest())).toThrow(/names missing policy test-policy/);
  });
});

describe('the cel-js worker the simulators of a file share', () => {
  test('closing one simulator leaves another working, as when a file holds one per Kubernetes version', () => {
    // GIVEN two simulators, as describeWithKube makes one per version and closes each in its afterAll
    const first = new AdmissionSimulator([policy(alwaysDeny), binding({})]);
    const second = new AdmissionSimulator([policy(alwaysDeny), binding({})]);
    // WHEN the first is closed
    first.close();
    // THEN the second still reviews with both engines (a stopped worker would block, then throw)
    try {
      expect(second.review(podRequest())).toMatchObject({ allowed: false, denial: "ValidatingAdmissionPolicy 'test-policy' with binding 'test-binding' denied request: no" });
    } finally {
      second.close();
    }
  });

  test('a closed simulator refuses to review instead of waiting on a stopped worker', () => {
    const closed = new AdmissionSimulator([policy(alwaysDeny), binding({})]);
    closed.close();
    closed.close();
    expect(() => closed.review(podRequest())).toThrow('AdmissionSimulator used after close()');
  });
});

describe('CEL runtime cost', () => {
  const costly = (validations: object[], variables: object[] = []) => simulator([policy({ matchConstraints: podRules(['pods']), variables, validations }), binding({})]);

  test('an expression whose string functions cost more than the per-call limit fails, and failurePolicy Fail denies', () => {
    // GIVEN matches() on a 400,000-character string: ceil(400001 × 0.1) × ceil(8 × 0.25) = 80,002 per call, 13 calls
    const sim = costly([{ expression: "[1,2,3,4,5,6,7,8,9,10,11,12,13].all(i, object.spec.text.matches('^[a-z]+$'))" }]);
    const request = (length: number) => podRequest({ object: { kind: 'Pod', metadata: { name: 'p' }, spec: { text: 'a'.repeat(length) } } });
    // WHEN / THEN over the limit (13 × 80,002 > 1,000,000) the evaluation fails as cel-go's does; under it, it passes
    expect(sim.review(request(400_000)).denial).toBe("ValidatingAdmissionPolicy 'test-policy' with binding 'test-binding' denied request: expression '[1,2,3,4,5,6,7,8,9,10,11,12,13].all(i, object.spec.text.matches('^[a-z]+$'))' resulted in error: operation cancelled: actual cost limit exceeded");
    expect(sim.review(request(300_000)).allowed).toBe(true);
  });

  test('a variable is metered on its own, and only expressions reading it fail', () => {
    const sim = costly(
      [{ expression: 'true' }, { expression: 'variables.matched' }],
      [{ name: 'matched', expression: "object.spec.text.matches('^[a-z]+$') && object.spec.text.matches('^[a-z]+$') && object.spec.text.matches('^[a-z]+$') && object.spec.text.matches('^[a-z]+$') && object.spec.text.matches('^[a-z]+$') && object.spec.text.matches('^[a-z]+$') && object.spec.text.matches('^[a-z]+$') && object.spec.text.matches('^[a-z]+$') && object.spec.text.matches('^[a-z]+$') && object.spec.text.matches('^[a-z]+$') && object.spec.text.matches('^[a-z]+$') && object.spec.text.matches('^[a-z]+$') && object.spec.text.matches('^[a-z]+$')" }],
    );
    const result = sim.review(podRequest({ object: { kind: 'Pod', metadata: { name: 'p' }, spec: { text: 'a'.repeat(400_000) } } }));
    expect(result.denial).toMatch(/expression 'variables.matched' resulted in error: variables.matched: operation cancelled: actual cost limit exceeded$/);
  });

  test('macros over thousands of list elements evaluate (no stack overflow in list concatenation)', () => {
    // GIVEN a filter over 5,000 items (macros concatenate one list per element)
    const sim = costly([{ expression: "size(object.spec.items.map(i, i.name).filter(n, n != 'x')) == 5000" }]);
    const items = Array.from({ length: 5_000 }, (_, i) => ({ name: `item${i}` }));
    // WHEN / THEN
    expect(sim.review(podRequest({ object: { kind: 'Pod', metadata: { name: 'p' }, spec: { items } } })).allowed).toBe(true);
  });
});

describe('warning headers', () => {
  test('a warning holding a control character is dropped, as the API server cannot send it in a header', () => {
    expect(warningHeaders(['refused: "a\tb"', 'refused: "ab"'])).toEqual(['refused: "ab"']);
  });

  test('repeated warnings are sent once', () => {
    expect(warningHeaders(['same', 'other', 'same'])).toEqual(['same', 'other']);
  });

  test('past 4096 characters in all, every warning is cut to 256', () => {
    const long = (c: string) => c.repeat(3000);
    expect(warningHeaders([long('a'), long('b'), 'short'])).toEqual(['a'.repeat(256), 'b'.repeat(256), 'short']);
  });
});
