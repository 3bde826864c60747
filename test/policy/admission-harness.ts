/**
 * Evaluates synthesized ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding manifests
 * against admission requests the way the Kubernetes API server does, using two independent real
 * CEL engines: @bufbuild/cel (primary) and @marcbachmann/cel-js (cross-check). Every expression is
 * evaluated by both; any difference in a value or in success/error throws, so a passing test
 * means both engines reached the same decision.
 *
 * Checked against a real kube-apiserver (1.33.13, and every version in
 * TRUSTED_REGISTRY_KUBE_VERSIONS) by test/kube/admission-corpus.test.ts: for every corpus request
 * that reaches admission there, the verdict, the denial (up to the text of CEL error messages,
 * which differ between engines), the warnings and the audit annotation are the server's.
 *
 * Emulated (after k8s.io/apiserver/pkg/admission/plugin/policy/validating):
 * - policy `matchConstraints.resourceRules` / `excludeResourceRules`: operations, apiGroups,
 *   apiVersions, scope and resources, where `pods` matches only the main resource,
 *   `pods/ephemeralcontainers` only that subresource, `pods/*` pods and all its subresources, `*`
 *   every main resource and `*` + `/*` everything;
 * - `namespaceSelector` (policy and binding) against the namespace's labels, which always include
 *   `kubernetes.io/metadata.name: <namespace>`; `objectSelector` against object or oldObject labels;
 * - binding `matchResources.resourceRules` (intersected with the policy's) and `policyName`;
 * - `matchConditions` (any false → skip; an error and no false → failurePolicy);
 * - `variables` in order, exposed as `variables.<name>`, lazily failing: an erroring variable only
 *   fails the expressions that read it;
 * - `validations`: false → violation with the message from `messageExpression` (trimmed; dropped
 *   if not a string, empty, multi-line or over 5120 bytes), else `message`, else
 *   `failed expression: <expression>`;
 * - `request.userInfo` (username and groups) as the request gives it, a cluster admin otherwise;
 * - `failurePolicy`: an evaluation error is a violation under Fail and ignored under Ignore;
 * - `validationActions`: Deny → request rejected with the first violation
 *   (`ValidatingAdmissionPolicy '<p>' with binding '<b>' denied request: <message>`), Warn → a
 *   warning (`Validation failed for ValidatingAdmissionPolicy '<p>' with binding '<b>': <message>`),
 *   Audit → the `validation.policy.admission.k8s.io/validation_failure` audit annotation, holding
 *   the request's first failure only (the server cannot overwrite an annotation, and drops the rest);
 * - warnings as the client receives them in `Warning` headers: repeated ones once, none holding a
 *   control character (a tab in a refused image name silences its warning), all cut to 256
 *   characters once they add up to more than 4096;
 * - CEL runtime cost, as a lower bound: string functions (`matches`, `startsWith`, `endsWith`,
 *   `contains`, `+`) metered with cel-go's factors, and an expression or variable over the
 *   per-call limit (1,000,000) fails with cel-go's `operation cancelled: actual cost limit
 *   exceeded` (src/preflight/cel-cost.ts, which the preflight evaluator shares). cel-go also charges about one unit per step (select, call, list element), which the
 *   harness does not, so near the limit the server refuses a little earlier: the corpus keeps its
 *   cost cases far from it (4,000 containers or a 400,000-character image refused, 250 containers
 *   or 20,000 characters admitted);
 * - request objects pass through the API server's typed decoding before admission, so JSON
 *   `null` never reaches CEL for optional fields: null fields are dropped and null list items
 *   become `{}` (a Go zero-value struct).
 *
 * Not emulated, and what the real server does instead:
 * - its own object decoding and validation, which run before validating admission: on a real
 *   server a pod with no or an empty image, an image with leading or trailing whitespace, null or
 *   non-list containers, a non-string image, ephemeral containers in a CREATE or an image volume
 *   without `reference` never reach the policy (400 or 422 from validation). The harness judges
 *   such requests as if they did;
 * - defaulting and mutating admission: on UPDATE the server's `object` is the stored object with
 *   the change applied and defaults filled in (e.g. the service-account token volume), not the
 *   request body;
 * - `matchPolicy: Equivalent` conversion: requests must use the version the rules name. On a real
 *   server the matched kinds are served only in v1 (apps/v1beta1 and v1beta2 were removed in 1.16,
 *   batch/v1beta1 in 1.25), so a request in another version is refused (404) before admission;
 * - params (`paramKind`/`paramRef`), `authorizer`, `auditAnnotations`, the per-policy cost budget
 *   (10,000,000) and compile-time type checking (test/kube/policy-type-checking.test.ts runs the
 *   server's type checker instead).
 */
import * as path from 'path';
import { MessageChannel, MessagePort, receiveMessageOnPort, Worker } from 'worker_threads';
import { CelValue, isCelError, isCelList, isCelMap, parse, plan } from '@bufbuild/cel';
import { Yaml } from 'cdk8s';
import * as YAML from 'yaml';
import { COST_LIMIT_ERROR, CostMeter, meteredCelEnv } from '../../src/preflight/cel-cost';
import { decodeLikeApiServer, RequestMatcher } from '../../src/preflight/policy-evaluator';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** The parts of an AdmissionRequest the policies can see. */
export interface AdmissionRequest {
  readonly operation: Operation;
  readonly resource: { readonly group: string; readonly version: string; readonly resource: string };
  /** e.g. `ephemeralcontainers`; empty or absent for the main resource. */
  readonly subResource?: string;
  readonly namespace: string;
  /** Extra labels of the namespace; `kubernetes.io/metadata.name` is always added. */
  readonly namespaceLabels?: Record<string, string>;
  readonly object?: unknown;
  readonly oldObject?: unknown;
  /** Who sends the request, as `request.userInfo`; a cluster admin when absent. */
  readonly userInfo?: { readonly username: string; readonly groups?: readonly string[] };
}

/** `request.userInfo` of requests that name no user. */
const DEFAULT_USER_INFO = { username: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'] };

export interface AdmissionResult {
  readonly allowed: boolean;
  /** Why the request was rejected, as the API server words it. */
  readonly denial?: string;
  readonly warnings: string[];
  readonly auditAnnotations: Record<string, string>;
  /** Names of the policies whose bindings matched the request. */
  readonly evaluatedPolicies: string[];
}

/** Plain data, comparable across engines. */
type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };
type Outcome = { readonly ok: true; readonly value: Plain } | { readonly ok: false; readonly error: string; readonly costExceeded?: boolean };

/** One CEL engine holding the state of one request evaluation. */
interface CelEngine {
  readonly name: string;
  start(activation: Record<string, unknown>): void;
  defineVariable(name: string, expression: string): Outcome;
  evaluate(expression: string): Outcome;
}

interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly spec: any;
}

const ADMISSION_GROUP = 'admissionregistration.k8s.io';
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
const MAX_MESSAGE_BYTES = 5 * 1024;
const VALIDATION_FAILURE_ANNOTATION = 'validation.policy.admission.k8s.io/validation_failure';

/** Writes the manifests as YAML with `cdk8s synth`'s serializer and reads them back, i.e. what it puts on disk. */
export function roundTripYaml(manifests: readonly unknown[]): unknown[] {
  const text = Yaml.stringify(...manifests);
  return YAML.parseAllDocuments(text).map((document) => document.toJS());
}

/**
 * Admission decisions for the ValidatingAdmissionPolicies and bindings found in `manifests`
 * (other kinds are ignored).
 */
export class AdmissionSimulator {
  private readonly policies = new Map<string, Manifest>();
  private readonly bindings: Manifest[] = [];
  private readonly engines: [CelEngine, CelEngine];
  private closed = false;

  constructor(manifests: readonly unknown[]) {
    for (const manifest of roundTripYaml(manifests) as Manifest[]) {
      if (!manifest.apiVersion.startsWith(`${ADMISSION_GROUP}/`)) continue;
      if (manifest.kind === 'ValidatingAdmissionPolicy') this.policies.set(manifest.metadata.name, manifest);
      if (manifest.kind === 'ValidatingAdmissionPolicyBinding') this.bindings.push(manifest);
    }
    if (this.policies.size === 0 || this.bindings.length === 0) {
      throw new Error('manifests hold no ValidatingAdmissionPolicy or no ValidatingAdmissionPolicyBinding');
    }
    this.engines = [new BufbuildEngine(), acquireCelJsEngine()];
  }

  /** Decides one request; throws if the two CEL engines disagree on any expression. */
  review(request: AdmissionRequest): AdmissionResult {
    if (this.closed) throw new Error('AdmissionSimulator used after close()');
    // Only the primary engine meters cost; the cross-check takes its cost verdicts, step by step.
    const primary = new Review(this.engines[0], request).run(this.policies, this.bindings);
    const crossCheck = new Review(this.engines[1], request, primary.costExceeded).run(this.policies, this.bindings);
    const primaryTrace = JSON.stringify(primary.trace);
    if (primaryTrace !== JSON.stringify(crossCheck.trace)) {
      throw new Error(`CEL engines disagree:\n${this.engines[0].name}: ${primaryTrace}\n${this.engines[1].name}: ${JSON.stringify(crossCheck.trace)}`);
    }
    return primary.result;
  }

  /**
   * Releases this simulator's use of the cel-js worker, which every simulator of the test file
   * shares: the worker stops when the last one is closed (a file may hold several, e.g. one per
   * Kubernetes version, each closed in its own afterAll).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    releaseCelJsEngine();
  }
}

interface Violation {
  readonly message: string;
  readonly expressionIndex: number;
}

/** One request against every binding, evaluated with one engine. */
class Review {
  /** Engine-independent record of every expression outcome (errors reduced to "error"). */
  readonly trace: Array<[string, Plain | 'error']> = [];
  /** Steps whose runtime cost passed the limit, by the primary engine's meter. */
  readonly costExceeded = new Set<string>();
  private readonly object: unknown;
  private readonly oldObject: unknown;
  private readonly matcher: RequestMatcher;
  private policyName = '';

  /**
   * @param costVerdicts steps to fail for cost without evaluating them (the primary engine's
   * verdicts, for an engine that does not meter cost)
   */
  constructor(private readonly engine: CelEngine, private readonly request: AdmissionRequest, private readonly costVerdicts?: ReadonlySet<string>) {
    this.object = decodeLikeApiServer(request.object ?? null);
    this.oldObject = decodeLikeApiServer(request.oldObject ?? null);
    this.matcher = new RequestMatcher(request, this.object, this.oldObject, this.namespaceLabels());
  }

  run(policies: Map<string, Manifest>, bindings: Manifest[]): { result: AdmissionResult; trace: Review['trace']; costExceeded: Set<string> } {
    const denials: string[] = [];
    const warnings: string[] = [];
    const auditFailures: object[] = [];
    const evaluatedPolicies: string[] = [];

    for (const binding of bindings) {
      const policy = policies.get(binding.spec.policyName);
      if (!policy) throw new Error(`binding ${binding.metadata.name} names missing policy ${binding.spec.policyName}`);
      if (!this.matcher.matches(policy.spec.matchConstraints) || !this.matcher.matches(binding.spec.matchResources ?? {}, true)) continue;
      evaluatedPolicies.push(policy.metadata.name);
      for (const violation of this.evaluate(policy)) {
        for (const action of binding.spec.validationActions as string[]) {
          if (action === 'Deny') {
            denials.push(`ValidatingAdmissionPolicy '${policy.metadata.name}' with binding '${binding.metadata.name}' denied request: ${violation.message}`);
          } else if (action === 'Warn') {
            warnings.push(`Validation failed for ValidatingAdmissionPolicy '${policy.metadata.name}' with binding '${binding.metadata.name}': ${violation.message}`);
          } else if (action === 'Audit') {
            auditFailures.push({
              message: violation.message,
              policy: policy.metadata.name,
              binding: binding.metadata.name,
              expressionIndex: violation.expressionIndex,
              validationActions: binding.spec.validationActions,
            });
          } else {
            throw new Error(`unknown validationAction ${action}`);
          }
        }
      }
    }

    // The API server writes the annotation for the first failure only: a later failure's value
    // differs, and admission annotations cannot be overwritten (the server logs and drops it).
    const auditAnnotations: Record<string, string> = auditFailures.length === 0 ? {} : { [VALIDATION_FAILURE_ANNOTATION]: JSON.stringify(auditFailures.slice(0, 1)) };
    const delivered = warningHeaders(warnings);
    const result: AdmissionResult = denials.length > 0
      ? { allowed: false, denial: denials[0], warnings: delivered, auditAnnotations, evaluatedPolicies }
      : { allowed: true, warnings: delivered, auditAnnotations, evaluatedPolicies };
    return { result, trace: this.trace, costExceeded: this.costExceeded };
  }

  /** Violations of one policy: failed validations and, under failurePolicy Fail, evaluation errors. */
  private evaluate(policy: Manifest): Violation[] {
    const failOnError = (policy.spec.failurePolicy ?? 'Fail') === 'Fail';
    this.policyName = policy.metadata.name;
    this.engine.start(this.activation());

    const conditions: Array<{ name: string; expression: string }> = policy.spec.matchConditions ?? [];
    const conditionOutcomes = conditions.map((condition) => this.step(`matchCondition ${condition.name}`, () => this.engine.evaluate(condition.expression)));
    if (conditionOutcomes.some((outcome) => outcome.ok && outcome.value === false)) return [];
    const conditionError = conditionOutcomes.find((outcome): outcome is Extract<Outcome, { ok: false }> => !outcome.ok);
    if (conditionError) return failOnError ? [{ message: conditionError.error, expressionIndex: 0 }] : [];

    const variableErrors = new Map<string, string>();
    for (const variable of (policy.spec.variables ?? []) as Array<{ name: string; expression: string }>) {
      const outcome = this.step(`variable ${variable.name}`, () => this.engine.defineVariable(variable.name, variable.expression));
      if (!outcome.ok) variableErrors.set(variable.name, outcome.error);
    }

    const violations: Violation[] = [];
    (policy.spec.validations ?? []).forEach((validation: { expression: string; message?: string; messageExpression?: string }, index: number) => {
      const outcome = this.step(`validation ${index}`, () => this.engine.evaluate(validation.expression));
      if (!outcome.ok) {
        if (failOnError) violations.push({ message: this.errorMessage(validation.expression, outcome.error, variableErrors), expressionIndex: index });
      } else if (outcome.value !== true) {
        violations.push({ message: this.violationMessage(validation, index), expressionIndex: index });
      }
    });
    return violations;
  }

  private violationMessage(validation: { expression: string; message?: string; messageExpression?: string }, index: number): string {
    if (validation.messageExpression) {
      const outcome = this.step(`messageExpression ${index}`, () => this.engine.evaluate(validation.messageExpression!));
      if (outcome.ok && typeof outcome.value === 'string') {
        const message = outcome.value.trim();
        if (message !== '' && !message.includes('\n') && Buffer.byteLength(message) <= MAX_MESSAGE_BYTES) return message;
      }
    }
    if (validation.message && validation.message.trim() !== '') return validation.message.trim();
    return `failed expression: ${validation.expression.trim()}`;
  }

  /** Names the failing variable when the expression only failed because it read one. */
  private errorMessage(expression: string, error: string, variableErrors: Map<string, string>): string {
    const failedVariable = [...variableErrors.keys()].find((name) => new RegExp(`\\bvariables\\.${name}\\b`).test(expression));
    const cause = failedVariable ? `variables.${failedVariable}: ${variableErrors.get(failedVariable)}` : error;
    return `expression '${expression}' resulted in error: ${cause}`;
  }

  /** Evaluates one step (unless the primary engine found it over the cost limit) and records its outcome. */
  private step(name: string, evaluate: () => Outcome): Outcome {
    const step = `${this.policyName}: ${name}`;
    const outcome: Outcome = this.costVerdicts?.has(step) ? { ok: false, error: COST_LIMIT_ERROR, costExceeded: true } : evaluate();
    if (!outcome.ok && outcome.costExceeded) this.costExceeded.add(step);
    this.trace.push([name, outcome.ok ? outcome.value : 'error']);
    return outcome;
  }

  private activation(): Record<string, unknown> {
    const metadata = (this.object ?? this.oldObject) as { metadata?: { name?: string }; apiVersion?: string; kind?: string } | null;
    return {
      object: this.object,
      oldObject: this.oldObject,
      params: null,
      namespaceObject: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: this.request.namespace, labels: this.namespaceLabels() } },
      request: {
        operation: this.request.operation,
        namespace: this.request.namespace,
        name: metadata?.metadata?.name ?? '',
        resource: this.request.resource,
        subResource: this.request.subResource ?? '',
        kind: { group: this.request.resource.group, version: this.request.resource.version, kind: metadata?.kind ?? '' },
        userInfo: this.request.userInfo ?? DEFAULT_USER_INFO,
      },
    };
  }

  private namespaceLabels(): Record<string, string> {
    return { ...this.request.namespaceLabels, [NAMESPACE_NAME_LABEL]: this.request.namespace };
  }
}

const WARNINGS_TRUNCATE_AT_TOTAL_RUNES = 4 * 1024;
const WARNING_TRUNCATED_RUNES = 256;

/**
 * The warnings a client receives as `Warning` headers (k8s.io/apiserver endpoints/filters
 * warning.go): empty and repeated texts are dropped, so is a text holding a control character
 * (e.g. a tab in a refused image name), and once the texts add up to more than 4096 characters
 * every one is cut to 256.
 */
export function warningHeaders(texts: readonly string[]): string[] {
  const runes = (text: string) => [...text].length;
  const cut = (text: string) => (runes(text) > WARNING_TRUNCATED_RUNES ? [...text].slice(0, WARNING_TRUNCATED_RUNES).join('') : text);
  const valid = (text: string) => !/\p{Cc}/u.test(text);
  const recorded: string[] = [];
  let headers: string[] = [];
  let written = 0;
  let truncating = false;
  for (const text of texts) {
    if (text === '') continue;
    if (written >= WARNINGS_TRUNCATE_AT_TOTAL_RUNES && truncating) break;
    if (recorded.includes(text)) continue;
    recorded.push(text);
    const header = truncating ? cut(text) : text;
    if (!valid(header)) continue;
    if (written + runes(header) <= WARNINGS_TRUNCATE_AT_TOTAL_RUNES || truncating) {
      written += runes(header);
      headers.push(header);
      continue;
    }
    // Over the limit: start again with every warning so far cut short.
    truncating = true;
    headers = recorded.map(cut).filter(valid);
    written = headers.reduce((sum, h) => sum + runes(h), 0);
  }
  return headers;
}

class BufbuildEngine implements CelEngine {
  readonly name = '@bufbuild/cel';
  private readonly meter = new CostMeter();
  // The Kubernetes CEL environment includes the cel-go strings extension (join, lowerAscii, ...).
  private readonly environment = meteredCelEnv(this.meter);
  private readonly plans = new Map<string, ReturnType<typeof plan>>();
  private activation: Record<string, unknown> = {};
  private variables: Record<string, CelValue> = {};

  start(activation: Record<string, unknown>): void {
    this.activation = activation;
    this.variables = {};
  }

  defineVariable(name: string, expression: string): Outcome {
    const outcome = this.evaluateAndKeep(expression);
    if (!outcome.ok) return outcome;
    this.variables[name] = outcome.result;
    return { ok: true, value: bufbuildToPlain(outcome.result) };
  }

  evaluate(expression: string): Outcome {
    const outcome = this.evaluateAndKeep(expression);
    return outcome.ok ? { ok: true, value: bufbuildToPlain(outcome.result) } : outcome;
  }

  /** Variables are evaluated (and metered) on their own, as the API server's composition does. */
  private evaluateAndKeep(expression: string): { ok: true; result: CelValue } | Extract<Outcome, { ok: false }> {
    let planned = this.plans.get(expression);
    if (!planned) {
      planned = plan(this.environment, parse(expression));
      this.plans.set(expression, planned);
    }
    this.meter.cost = 0;
    const result = planned({ ...this.activation, variables: this.variables } as any);
    if (this.meter.exceeded) return { ok: false, error: COST_LIMIT_ERROR, costExceeded: true };
    return isCelError(result) ? { ok: false, error: result.message } : { ok: true, result };
  }
}

function bufbuildToPlain(value: CelValue): Plain {
  if (typeof value === 'bigint') return Number(value);
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  if (isCelList(value)) return [...value].map(bufbuildToPlain);
  if (isCelMap(value)) return Object.fromEntries([...value].map(([k, v]) => [String(k), bufbuildToPlain(v)]));
  throw new Error(`unexpected CEL value ${String(value)}`);
}

/** Synchronous client of cel-js-worker.mjs. */
class CelJsEngine implements CelEngine {
  readonly name = '@marcbachmann/cel-js';
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private readonly port: MessagePort;
  private readonly worker: Worker;

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(path.join(__dirname, 'cel-js-worker.mjs'), {
      workerData: { signal: this.signal.buffer, port: port2 },
      transferList: [port2],
    });
    this.worker.unref();
  }

  start(activation: Record<string, unknown>): void {
    this.call({ op: 'start', activation });
  }

  defineVariable(name: string, expression: string): Outcome {
    return this.call({ op: 'variable', name, expression });
  }

  evaluate(expression: string): Outcome {
    return this.call({ op: 'evaluate', expression });
  }

  terminate(): void {
    this.port.close();
    void this.worker.terminate();
  }

  private call(message: object): Outcome {
    Atomics.store(this.signal, 0, 0);
    this.port.postMessage(message);
    // The first call also waits for the worker to start and load cel-js.
    if (Atomics.wait(this.signal, 0, 0, 30_000) === 'timed-out') {
      throw new Error('cel-js worker did not answer within 30 s');
    }
    // The signal can arrive before the posted reply is visible on this thread (seen on a loaded
    // machine): wait for it, or a late reply would answer the next call and shift every answer.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const reply = receiveMessageOnPort(this.port);
      if (reply) return reply.message as Outcome;
      if (Date.now() > deadline) throw new Error('cel-js worker signalled without a reply within 30 s');
      Atomics.wait(this.signal, 0, 1, 1);
    }
  }
}

let celJsEngine: CelJsEngine | undefined;
let celJsEngineUsers = 0;

/** One worker per test file, shared by its open simulators: starting it costs far more than a request. */
function acquireCelJsEngine(): CelJsEngine {
  celJsEngine ??= new CelJsEngine();
  celJsEngineUsers += 1;
  return celJsEngine;
}

function releaseCelJsEngine(): void {
  celJsEngineUsers -= 1;
  if (celJsEngineUsers > 0) return;
  celJsEngine?.terminate();
  celJsEngine = undefined;
}
