import { celError, CelResult, CelValue, isCelError, isCelList, isCelMap, parse, plan, RE2JS } from '../bundled/cel';
import { COST_LIMIT_ERROR, CostMeter, meteredCelEnv } from './cel-cost';
import { NAMESPACE_NAME_LABEL } from '../well-known-labels';

/**
 * Evaluates ValidatingAdmissionPolicies and their bindings on admission requests the way the
 * Kubernetes API server does (after k8s.io/apiserver/pkg/admission/plugin/policy/validating,
 * 1.30), with the @bufbuild/cel engine: resource rules, namespace and object selectors,
 * `matchConditions`, `variables` (an erroring variable fails only what reads it),
 * `validations` with `messageExpression` (dropped when not a single-line string of at most
 * 5120 bytes), `failurePolicy`, `validationActions` and the CEL runtime cost limit per
 * expression (an expression over it fails, so the policy fails closed as on the server; the
 * meter is a lower bound, see cel-cost.ts). Params, the authorizer, audit annotations,
 * `matchPolicy: Equivalent` conversion and the per-policy cost budget are not evaluated. It reports
 * every violation, including those whose warning the server cannot deliver (a `Warning` header
 * holds no control character): preflight asks what enforce would refuse. The test suite checks
 * every decision against a second CEL engine (test/policy/admission-harness.ts).
 */

/** The parts of an admission request a policy can see. */
export interface AdmissionRequestInput {
  readonly operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  readonly resource: { readonly group: string; readonly version: string; readonly resource: string };
  /** e.g. `ephemeralcontainers`; empty for the main resource. */
  readonly subResource?: string;
  readonly namespace: string;
  /** Labels of the namespace; `kubernetes.io/metadata.name` is always added. */
  readonly namespaceLabels?: Record<string, string>;
  readonly object?: unknown;
  readonly oldObject?: unknown;
}

/** One failed validation (or evaluation error under failurePolicy Fail). */
export interface PolicyViolation {
  readonly policy: string;
  readonly binding: string;
  readonly message: string;
  readonly expressionIndex: number;
  readonly validationActions: string[];
}

/** A policy whose binding matched the request. */
export interface EvaluatedPolicy {
  readonly policy: string;
  readonly binding: string;
  readonly violations: PolicyViolation[];
  /** The value of a variable as plain data; `undefined` when it is not defined or failed. */
  variable(name: string): unknown;
}

interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly spec: any;
}

type Planned = ReturnType<typeof plan>;

const ADMISSION_GROUP = 'admissionregistration.k8s.io';
const MAX_MESSAGE_BYTES = 5 * 1024;

export class PolicyEvaluator {
  /** The ValidatingAdmissionPolicies found in the manifests, by name. */
  public readonly policies = new Map<string, Manifest>();
  /** The ValidatingAdmissionPolicyBindings found in the manifests. */
  public readonly bindings: Manifest[] = [];
  private readonly meter = new CostMeter();
  // The Kubernetes CEL environment includes the cel-go strings extension (join, lowerAscii, ...).
  // `matches` uses the same RE2 engine as by default, but compiles each pattern once instead of
  // on every call (which took most of the time on large dumps).
  private readonly environment = meteredCelEnv(this.meter, new CachingRe2());
  private readonly plans = new Map<string, Planned>();

  /** Takes the policies and bindings from any list of manifests (other kinds are ignored). */
  constructor(manifests: readonly unknown[]) {
    for (const manifest of manifests as Manifest[]) {
      if (typeof manifest?.apiVersion !== 'string' || !manifest.apiVersion.startsWith(`${ADMISSION_GROUP}/`)) continue;
      if (manifest.kind === 'ValidatingAdmissionPolicy') this.policies.set(manifest.metadata.name, manifest);
      if (manifest.kind === 'ValidatingAdmissionPolicyBinding') this.bindings.push(manifest);
    }
    if (this.policies.size === 0 || this.bindings.length === 0) {
      throw new Error('the manifests hold no ValidatingAdmissionPolicy or no ValidatingAdmissionPolicyBinding');
    }
    for (const binding of this.bindings) {
      if (!this.policies.has(binding.spec?.policyName)) {
        throw new Error(`ValidatingAdmissionPolicyBinding ${binding.metadata.name} names policy ${binding.spec?.policyName}, which the manifests do not hold`);
      }
    }
  }

  /** Every policy whose binding matches the request, with its violations. */
  public evaluate(request: AdmissionRequestInput): EvaluatedPolicy[] {
    const object = decodeLikeApiServer(request.object ?? null);
    const oldObject = decodeLikeApiServer(request.oldObject ?? null);
    const namespaceLabels = { ...request.namespaceLabels, [NAMESPACE_NAME_LABEL]: request.namespace };
    const matcher = new RequestMatcher(request, object, oldObject, namespaceLabels);
    const evaluated: EvaluatedPolicy[] = [];
    for (const binding of this.bindings) {
      const policy = this.policies.get(binding.spec.policyName)!;
      if (!matcher.matches(policy.spec.matchConstraints ?? {}) || !matcher.matches(binding.spec.matchResources ?? {}, true)) continue;
      evaluated.push(this.evaluatePolicy(policy, binding, activation(request, object, oldObject, namespaceLabels)));
    }
    return evaluated;
  }

  private evaluatePolicy(policy: Manifest, binding: Manifest, base: Record<string, unknown>): EvaluatedPolicy {
    const variables: Record<string, CelValue> = {};
    const context = { ...base, variables };
    const failOnError = (policy.spec.failurePolicy ?? 'Fail') === 'Fail';
    const validationActions: string[] = binding.spec.validationActions ?? [];
    const violations: PolicyViolation[] = [];
    const violation = (message: string, expressionIndex: number): PolicyViolation =>
      ({ policy: policy.metadata.name, binding: binding.metadata.name, message, expressionIndex, validationActions });
    const result = (): EvaluatedPolicy => ({
      policy: policy.metadata.name,
      binding: binding.metadata.name,
      violations,
      variable: (name) => (name in variables ? toPlain(variables[name]) : undefined),
    });

    let conditionError: string | undefined;
    for (const condition of (policy.spec.matchConditions ?? []) as Array<{ expression: string }>) {
      const outcome = this.run(condition.expression, context);
      if (isCelError(outcome)) {
        conditionError ??= outcome.message;
      } else if (outcome === false) {
        return result();
      }
    }
    if (conditionError !== undefined) {
      if (failOnError) violations.push(violation(conditionError, 0));
      return result();
    }

    const variableErrors = new Map<string, string>();
    for (const variable of (policy.spec.variables ?? []) as Array<{ name: string; expression: string }>) {
      const outcome = this.run(variable.expression, context);
      if (isCelError(outcome)) {
        variableErrors.set(variable.name, outcome.message);
      } else {
        variables[variable.name] = outcome;
      }
    }

    ((policy.spec.validations ?? []) as Validation[]).forEach((validation, index) => {
      const outcome = this.run(validation.expression, context);
      if (isCelError(outcome)) {
        if (failOnError) violations.push(violation(errorMessage(validation.expression, outcome.message, variableErrors), index));
      } else if (outcome !== true) {
        violations.push(violation(this.violationMessage(validation, context), index));
      }
    });
    return result();
  }

  private violationMessage(validation: Validation, context: Record<string, unknown>): string {
    if (validation.messageExpression) {
      const outcome = this.run(validation.messageExpression, context);
      if (typeof outcome === 'string') {
        const message = outcome.trim();
        if (message !== '' && !message.includes('\n') && Buffer.byteLength(message) <= MAX_MESSAGE_BYTES) return message;
      }
    }
    if (validation.message && validation.message.trim() !== '') return validation.message.trim();
    return `failed expression: ${validation.expression.trim()}`;
  }

  /** Each expression is parsed and planned once, then evaluated (and metered on its own) per request. */
  private run(expression: string, context: Record<string, unknown>): CelResult {
    let planned = this.plans.get(expression);
    if (!planned) {
      planned = plan(this.environment, parse(expression));
      this.plans.set(expression, planned);
    }
    this.meter.cost = 0;
    const result = planned(context as any);
    return this.meter.exceeded ? celError(COST_LIMIT_ERROR) : result;
  }
}

/**
 * RE2JS with each pattern compiled once, and each pattern's answers remembered: a cluster runs
 * few distinct images, each checked once per object. Answers per pattern are bounded.
 */
class CachingRe2 {
  private static readonly MAX_ANSWERS = 100_000;
  private readonly matchers = new Map<string, { test(input: string): boolean }>();

  compile(pattern: string): { test(input: string): boolean } {
    let matcher = this.matchers.get(pattern);
    if (!matcher) {
      const regex = RE2JS.compile(pattern);
      const answers = new Map<string, boolean>();
      matcher = {
        test(input: string): boolean {
          let answer = answers.get(input);
          if (answer === undefined) {
            answer = regex.test(input);
            if (answers.size < CachingRe2.MAX_ANSWERS) answers.set(input, answer);
          }
          return answer;
        },
      };
      this.matchers.set(pattern, matcher);
    }
    return matcher;
  }
}

interface Validation {
  readonly expression: string;
  readonly message?: string;
  readonly messageExpression?: string;
}

function activation(request: AdmissionRequestInput, object: unknown, oldObject: unknown, namespaceLabels: Record<string, string>): Record<string, unknown> {
  const subject = (object ?? oldObject) as { metadata?: { name?: string }; kind?: string } | null;
  return {
    object,
    oldObject,
    params: null,
    namespaceObject: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: request.namespace, labels: namespaceLabels } },
    request: {
      operation: request.operation,
      namespace: request.namespace,
      name: subject?.metadata?.name ?? '',
      resource: request.resource,
      subResource: request.subResource ?? '',
      kind: { group: request.resource.group, version: request.resource.version, kind: subject?.kind ?? '' },
    },
  };
}

/** Names the failing variable when the expression only failed because it read one. */
function errorMessage(expression: string, error: string, variableErrors: Map<string, string>): string {
  const failed = [...variableErrors.keys()].find((name) => new RegExp(`\\bvariables\\.${name}\\b`).test(expression));
  const cause = failed ? `variables.${failed}: ${variableErrors.get(failed)}` : error;
  return `expression '${expression}' resulted in error: ${cause}`;
}

/**
 * MatchResources semantics (policy matchConstraints and binding matchResources). Internal to the
 * package; the test harness judges requests with it too.
 */
export class RequestMatcher {
  constructor(
    private readonly request: AdmissionRequestInput,
    private readonly object: unknown,
    private readonly oldObject: unknown,
    private readonly namespaceLabels: Record<string, string>,
  ) {}

  /** A binding without resourceRules does not constrain resources. */
  matches(match: any, resourceRulesOptional = false): boolean {
    const rules: any[] | undefined = match.resourceRules;
    if (!(resourceRulesOptional && rules === undefined) && !(rules ?? []).some((rule) => this.matchesRule(rule))) return false;
    if ((match.excludeResourceRules ?? []).some((rule: any) => this.matchesRule(rule))) return false;
    if (match.namespaceSelector && !selectorMatches(match.namespaceSelector, this.namespaceLabels)) return false;
    if (match.objectSelector) {
      const labelsOf = (candidate: any) => (candidate?.metadata?.labels ?? {}) as Record<string, string>;
      const candidates = [this.object, this.oldObject].filter((candidate) => candidate !== null);
      if (!candidates.some((candidate) => selectorMatches(match.objectSelector, labelsOf(candidate)))) return false;
    }
    return true;
  }

  private matchesRule(rule: any): boolean {
    const { operation, resource, subResource, namespace } = this.request;
    const listed = (values: string[] | undefined, value: string) => (values ?? []).some((v) => v === '*' || v === value);
    if (!listed(rule.operations, operation) || !listed(rule.apiGroups, resource.group) || !listed(rule.apiVersions, resource.version)) return false;
    const scope = rule.scope ?? '*';
    if ((scope === 'Namespaced' && namespace === '') || (scope === 'Cluster' && namespace !== '')) return false;
    return (rule.resources as string[]).some((entry) => {
      const [entryResource, entrySubResource = ''] = entry.split('/');
      return (entryResource === '*' || entryResource === resource.resource)
        && (entrySubResource === '*' || entrySubResource === (subResource ?? ''));
    });
  }
}

function selectorMatches(selector: any, labels: Record<string, string>): boolean {
  const matchLabels = Object.entries((selector.matchLabels ?? {}) as Record<string, string>);
  if (!matchLabels.every(([key, value]) => labels[key] === value)) return false;
  return (selector.matchExpressions ?? []).every((requirement: { key: string; operator: string; values?: string[] }) => {
    const present = Object.prototype.hasOwnProperty.call(labels, requirement.key);
    switch (requirement.operator) {
      case 'In': return present && (requirement.values ?? []).includes(labels[requirement.key]);
      case 'NotIn': return !present || !(requirement.values ?? []).includes(labels[requirement.key]);
      case 'Exists': return present;
      case 'DoesNotExist': return !present;
      default: throw new Error(`unknown label selector operator ${requirement.operator}`);
    }
  });
}

/** Drops null fields and turns null list items into `{}`, as decoding into Go structs does. */
export function decodeLikeApiServer(value: unknown): unknown {
  // Objects from a cluster rarely hold a null: copy only those that do.
  return holdsNull(value) ? decodeNulls(value) : value;
}

function holdsNull(value: unknown): boolean {
  if (value === null) return true;
  if (typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(holdsNull);
  for (const key in value) {
    if (holdsNull((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

function decodeNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => (item === null ? {} : decodeNulls(item)));
  if (value !== null && typeof value === 'object') {
    const decoded: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item !== null) decoded[key] = decodeNulls(item);
    }
    return decoded;
  }
  return value;
}

/** A CEL value as plain data: integers become numbers, maps objects. */
function toPlain(value: CelValue): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (isCelList(value)) return [...value].map(toPlain);
  if (isCelMap(value)) return Object.fromEntries([...value].map(([k, v]) => [String(k), toPlain(v)]));
  return value;
}
