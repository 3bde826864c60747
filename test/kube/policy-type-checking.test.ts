import { Testing } from 'cdk8s';
import { PolicyMode, TrustedImagePolicy, TrustedRegistryChart } from '../../src';
import { Manifest } from '../util/manifests';
import { describeWithKube, KubeClient, useExclusiveCluster } from './kube-fixture';
import { KubeCluster } from './versions';

// The API server type-checks a ValidatingAdmissionPolicy against the OpenAPI schema of every kind
// its rules match and reports problems in status.typeChecking (kube-controller-manager's
// ValidatingAdmissionPolicy status controller writes it). It checks only validations[*].expression
// and messageExpression, never `variables`, and a variable that fails to type-check becomes `dyn`,
// so a policy whose logic lives in variables always reports nothing. The second describe below
// makes the check meaningful: every variable expression is repeated inside a validation of a
// throw-away policy, per matched kind.

const POLICY_GROUP = '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies';

/** Every ValidatingAdmissionPolicy shape the constructs can produce (the binding varies, not the policy, with mode and exemptions). */
function policyVariants(): Array<[string, Manifest]> {
  const variant = (name: string, build: (chart: any) => void): [string, Manifest] => {
    const chart = Testing.chart();
    build(chart);
    return [name, (Testing.synth(chart) as Manifest[]).find((m) => m.kind === 'ValidatingAdmissionPolicy')!];
  };
  return [
    ['the default chart', (() => {
      const manifests = Testing.synth(new TrustedRegistryChart(Testing.app(), 'trusted-registry')) as Manifest[];
      return manifests.find((m) => m.kind === 'ValidatingAdmissionPolicy')!;
    })()],
    variant('pods only (workloads: false)', (chart) => new TrustedImagePolicy(chart, 'P', { trustedSources: ['registry.mycorp.local'], workloads: false })),
    variant('two trusted sources, audit', (chart) => new TrustedImagePolicy(chart, 'P', { trustedSources: ['registry.mycorp.local', 'mirror.mycorp.local/team-a/'], mode: PolicyMode.AUDIT })),
    variant('two trusted sources, pods only', (chart) => new TrustedImagePolicy(chart, 'P', { trustedSources: ['registry.mycorp.local', 'mirror.mycorp.local/team-a/'], workloads: false })),
  ];
}

/** One type-checking problem: the kind it was checked against and the checker's message. */
interface TypeIssue {
  readonly kind: string;
  readonly issue: string;
}

/** Splits a status.typeChecking warning ("<group>/<version>, Kind=<Kind>: ERROR: <input>:1:2: <issue>\n | ...") into issues. */
function parseTypeWarning(warning: string): TypeIssue[] {
  const issues: TypeIssue[] = [];
  let kind = '';
  for (const line of warning.split('\n')) {
    const header = /^\S*, Kind=(\w+): (.*)$/.exec(line);
    if (header) kind = header[1];
    const text = header ? header[2] : line;
    for (const match of text.matchAll(/ERROR: <input>:\d+:\d+: (.+)$/g)) issues.push({ kind, issue: match[1].trim() });
    if (header && !/ERROR: /.test(text) && text.trim() !== '') issues.push({ kind, issue: text.trim() });
  }
  return issues;
}

interface ExpressionWarning {
  readonly fieldRef: string;
  readonly warning: string;
}

/** Creates the policy (replacing one of the same name) and waits until the status controller has type-checked this generation. */
async function typeCheck(client: KubeClient, policy: Manifest): Promise<ExpressionWarning[]> {
  await client.request('DELETE', `${POLICY_GROUP}/${policy.metadata.name}`);
  await client.waitFor(`deletion of ${policy.metadata.name}`, async () => (await client.request('GET', `${POLICY_GROUP}/${policy.metadata.name}`)).status === 404);
  const created = (await client.expectOk('POST', `${POLICY_GROUP}?fieldValidation=Strict`, { body: policy })).body;
  let status: any;
  await client.waitFor(`status.typeChecking of ${policy.metadata.name}`, async () => {
    const live = (await client.expectOk('GET', `${POLICY_GROUP}/${policy.metadata.name}`)).body;
    status = live.status;
    return status?.observedGeneration === created.metadata.generation && status?.typeChecking !== undefined;
  }, 90_000);
  await client.request('DELETE', `${POLICY_GROUP}/${policy.metadata.name}`);
  return status.typeChecking.expressionWarnings ?? [];
}

/** The kinds a policy's rules match, by resource name (as the type checker resolves them). */
const KIND_OF_RESOURCE: Record<string, string> = {
  pods: 'Pod', replicationcontrollers: 'ReplicationController', daemonsets: 'DaemonSet', deployments: 'Deployment',
  replicasets: 'ReplicaSet', statefulsets: 'StatefulSet', cronjobs: 'CronJob', jobs: 'Job',
};

/** Where each kind keeps its pod spec, below the object (`object` or `oldObject`). */
const POD_SPEC_PATH: Record<string, string> = {
  Pod: 'spec',
  CronJob: 'spec.jobTemplate.spec.template.spec',
};
const podSpecPath = (kind: string) => POD_SPEC_PATH[kind] ?? 'spec.template.spec';

/** The kind-guarded pod spec lookup the policy's variables use, for `object` or `oldObject`. */
const GUARDED_POD_SPEC = /(\w+)\.kind == 'Pod' \? \1\.spec : \(\1\.kind == 'CronJob' \? \1\.spec\.jobTemplate\.spec\.template\.spec : \1\.spec\.template\.spec\)/g;

/**
 * An expression with every kind-guarded pod spec lookup replaced by the branch its guard takes for
 * `kind`, and a variable that is null on CREATE by its UPDATE branch (the only one read).
 */
function resolveGuards(expression: string, kind: string): string {
  return expression.replace(NULL_ON_CREATE, '').replace(GUARDED_POD_SPEC, (_match, object: string) => `${object}.${podSpecPath(kind)}`);
}

/** The kinds that have no field `field` under `object.spec`. */
const LACKING: Record<string, (kind: string) => boolean> = {
  jobTemplate: (kind) => kind !== 'CronJob',
  template: (kind) => kind === 'CronJob' || kind === 'Pod',
};

/**
 * Issues the checker reports for a variable as written, each harmless: a variable reading
 * `object.spec.jobTemplate` or `object.spec.template` (or the same of `oldObject`) does so behind a `.kind` guard, and
 * the checker types every branch against every kind, so each kind lacking the field reports it.
 */
function expectedVariableIssues(cluster: KubeCluster, variable: { name: string; expression: string }, kind: string, variables: Array<{ name: string; expression: string }>): string[] {
  const guarded = Object.entries(LACKING)
    .filter(([field, lacks]) => new RegExp(`\\b(?:object|oldObject)\\.spec\\.${field}\\b`).test(variable.expression) && lacks(kind))
    .map(([field]) => `undefined field '${field}'`);
  // A variable that is null on CREATE (`oldObject == null ? null : ...`) has the type null to the
  // checker (unless its other branch fails to check, which makes it dyn); reading its fields,
  // which happens only on UPDATE, is reported.
  const readsNullable = variables.some((other) => new RegExp(`\\bvariables\\.${other.name}\\.`).test(variable.expression)
    && /^oldObject == null \? null : /.test(other.expression)
    && expectedVariableIssues(cluster, other, kind, variables).length === 0);
  return [...guarded, ...(readsNullable ? ["type 'null' does not support field selection"] : [])];
}

/** A variable that is null (or empty) when there is no old object (CREATE), as the policy writes it. */
const NULL_ON_CREATE = /^oldObject == null \? (null|\[\]) : /;

/** A validation that type-checks `expression` whatever its type. */
const asValidation = (expression: string) => ({ expression: `(${expression}) == (${expression})` });

describeWithKube('the policy type-checks on a real API server', (cluster) => {
  const client = useExclusiveCluster(cluster);

  test.each(policyVariants())('%s: status.typeChecking has no warning', async (_name, policy) => {
    expect(await typeCheck(client, policy)).toEqual([]);
  });

  test('the type checker reports a misspelt field (so an empty result means something)', async () => {
    // GIVEN a pod policy reading a field pods do not have
    const policy = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'typecheck-control' },
      spec: {
        matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }] },
        validations: [{ expression: 'size(object.spec.containerz) > 0' }],
      },
    };
    // WHEN / THEN
    const warnings = await typeCheck(client, policy as unknown as Manifest);
    expect(warnings.flatMap((w) => parseTypeWarning(w.warning))).toEqual([{ kind: 'Pod', issue: "undefined field 'containerz'" }]);
  });

  describe.each(policyVariants())('%s, every variable repeated in a validation', (_name, policy) => {
    const variables: Array<{ name: string; expression: string }> = policy.spec.variables;
    const kinds: string[] = policy.spec.matchConstraints.resourceRules
      .flatMap((rule: { resources: string[] }) => rule.resources)
      .filter((resource: string) => !resource.includes('/'))
      .map((resource: string) => KIND_OF_RESOURCE[resource]);

    test('as written: only the issues of branches the kind guards never take', async () => {
      // GIVEN the policy with one validation per variable, repeating its expression
      const probe = { ...policy, metadata: { name: 'typecheck-variables' }, spec: { ...policy.spec, validations: variables.map((v) => asValidation(v.expression)) } };
      // WHEN the server type-checks it against every matched kind
      const warnings = await typeCheck(client, probe);
      // THEN each variable reports exactly the expected issues per kind
      const found = variables.map((variable, index) => {
        const warning = warnings.find((w) => w.fieldRef === `spec.validations[${index}].expression`)?.warning ?? '';
        const issues = parseTypeWarning(warning);
        return { variable: variable.name, byKind: Object.fromEntries(kinds.map((kind) => [kind, [...new Set(issues.filter((i) => i.kind === kind).map((i) => i.issue))].sort()])) };
      });
      const expected = variables.map((variable) => ({
        variable: variable.name,
        byKind: Object.fromEntries(kinds.map((kind) => [kind, expectedVariableIssues(cluster, variable, kind, variables).sort()])),
      }));
      expect(found).toEqual(expected);
    });

    test('the kind guards are the ones resolved below', () => {
      // The per-kind checks below mean little if the guarded lookup changes shape unnoticed.
      // (`images` picks one of two list(string) variables on `oldObject == null`: not a guard, as
      // both branches have one type and are type-checked as written.)
      const guarded = variables.filter((v) => /\.kind ==/.test(v.expression) || NULL_ON_CREATE.test(v.expression));
      expect(guarded.map((v) => v.name)).toContain('oldSlots');
      guarded.forEach((v) => expect(resolveGuards(v.expression, 'Deployment')).not.toMatch(/\.kind ==|^oldObject == null \? (null|\[\]) : /));
    });

    test.each(kinds)('per kind: %s, with the kind guards resolved as they are at run time, type-checks cleanly', async (kind) => {
      // GIVEN the policy for one kind, every kind-guarded pod spec lookup being the branch its guard takes,
      // every variable repeated in a validation, plus the policy's own validations
      const rule = policy.spec.matchConstraints.resourceRules.find((r: { resources: string[] }) => r.resources.some((res) => KIND_OF_RESOURCE[res] === kind));
      const resource = rule.resources.find((res: string) => KIND_OF_RESOURCE[res] === kind);
      const specialized = variables.map((v) => ({ ...v, expression: resolveGuards(v.expression, kind) }));
      const probe = {
        ...policy,
        metadata: { name: `typecheck-${kind.toLowerCase()}` },
        spec: {
          ...policy.spec,
          matchConstraints: { ...policy.spec.matchConstraints, resourceRules: [{ ...rule, resources: [resource] }] },
          variables: specialized,
          validations: [...specialized.map((v) => asValidation(v.expression)), ...policy.spec.validations],
        },
      };
      // WHEN / THEN (1.30 has no image volumes, yet its checker accepts `v.image` too)
      const issues = (await typeCheck(client, probe)).flatMap((w) => parseTypeWarning(w.warning).map((i) => i.issue));
      expect(issues).toEqual([]);
    });
  });
});
