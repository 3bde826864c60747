import { parseAllDocuments } from '../bundled/yaml';
import { PolicyEvaluator } from './policy-evaluator';

/**
 * What the synthesized admission policy would refuse if every object of a cluster dump were
 * created again (a pod recreated, a workload re-applied): the same question Kyverno and
 * Gatekeeper answer with background scans, answered here by evaluating the exact
 * ValidatingAdmissionPolicy and binding with a real CEL engine.
 */

/** The workload kinds the policy can check, with the resource an API request for them names. */
export const WORKLOAD_RESOURCES: Record<string, { readonly group: string; readonly version: string; readonly resource: string }> = {
  Pod: { group: '', version: 'v1', resource: 'pods' },
  ReplicationController: { group: '', version: 'v1', resource: 'replicationcontrollers' },
  Deployment: { group: 'apps', version: 'v1', resource: 'deployments' },
  StatefulSet: { group: 'apps', version: 'v1', resource: 'statefulsets' },
  DaemonSet: { group: 'apps', version: 'v1', resource: 'daemonsets' },
  ReplicaSet: { group: 'apps', version: 'v1', resource: 'replicasets' },
  Job: { group: 'batch', version: 'v1', resource: 'jobs' },
  CronJob: { group: 'batch', version: 'v1', resource: 'cronjobs' },
};

/** The command to produce a dump the preflight reads. */
export const DUMP_COMMAND = 'kubectl get namespaces,pods,deployments,statefulsets,daemonsets,replicasets,jobs,cronjobs,replicationcontrollers -A -o json';

/** One object of the dump, named. */
export interface ObjectRef {
  readonly kind: string;
  readonly name: string;
}

/** A workload (the top-most controller found in the dump) with what would be refused. */
export interface RefusedWorkload {
  readonly namespace: string;
  /** The top-most owner present in the dump (or the object itself). */
  readonly workload: ObjectRef;
  /** Every refused object grouped under it (the workload itself, its ReplicaSets, its Pods...). */
  readonly objects: ObjectRef[];
  /** The policy's messages, distinct, in order of first appearance. */
  readonly messages: string[];
}

export interface PreflightReport {
  /** `<policy>/<binding>` pairs evaluated, with their validationActions. */
  readonly bindings: Array<{ readonly policy: string; readonly binding: string; readonly validationActions: string[] }>;
  /** Objects in the dump. */
  readonly objects: number;
  /** Workload objects evaluated (their binding matched). */
  readonly checked: number;
  /** Workload objects no binding matched (exempt namespaces). */
  readonly notChecked: number;
  /** Namespaces holding objects no binding matched. */
  readonly notCheckedNamespaces: string[];
  /** Objects of kinds the policy does not check (Services, ConfigMaps...). */
  readonly otherKinds: number;
  readonly refused: RefusedWorkload[];
  /** Distinct images the policy does not trust: copy them into the registry. */
  readonly imagesToMirror: string[];
  /** Distinct trusted images without a digest: pin them. */
  readonly imagesToPin: string[];
}

export interface PreflightOptions {
  /** Called every `progressEvery` objects with (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
  /** @default 1000 */
  readonly progressEvery?: number;
}

/**
 * Reads a dump: `kubectl get ... -o json` (a `List`, possibly nested) or any JSON/YAML object or
 * stream of them. Returns the objects, flattened.
 */
export function parseDump(text: string): any[] {
  let documents: unknown[];
  try {
    documents = [JSON.parse(text)];
  } catch {
    documents = parseAllDocuments(text).map((document) => {
      if (document.errors.length > 0) throw new Error(`the dump is neither JSON nor YAML: ${document.errors[0].message}`);
      return document.toJS();
    });
  }
  const objects: any[] = [];
  const collect = (value: any) => {
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error('the dump must hold Kubernetes objects or Lists of them');
    if (Array.isArray(value.items) && (value.kind === 'List' || String(value.kind ?? '').endsWith('List'))) {
      value.items.forEach(collect);
    } else {
      objects.push(value);
    }
  };
  documents.forEach(collect);
  return objects;
}

/** Evaluates every workload of the dump as a CREATE request. */
export function runPreflight(evaluator: PolicyEvaluator, objects: readonly any[], options: PreflightOptions = {}): PreflightReport {
  const namespaceLabels = new Map<string, Record<string, string>>();
  for (const object of objects) {
    if (object.kind === 'Namespace' && object.metadata?.name) namespaceLabels.set(object.metadata.name, object.metadata.labels ?? {});
  }
  const byUid = new Map<string, any>();
  for (const object of objects) {
    if (object.metadata?.uid) byUid.set(object.metadata.uid, object);
  }

  const refused = new Map<string, { namespace: string; workload: ObjectRef; objects: ObjectRef[]; messages: string[] }>();
  const toMirror = new Set<string>();
  const unpinned = new Set<string>();
  const notCheckedNamespaces = new Set<string>();
  let checked = 0;
  let notChecked = 0;
  let otherKinds = 0;
  const progressEvery = options.progressEvery ?? 1000;

  objects.forEach((object, index) => {
    if (options.onProgress && index > 0 && index % progressEvery === 0) options.onProgress(index, objects.length);
    const resource = WORKLOAD_RESOURCES[object.kind];
    if (!resource) {
      if (object.kind !== 'Namespace') otherKinds++;
      return;
    }
    const namespace: string = object.metadata?.namespace ?? 'default';
    const evaluated = evaluator.evaluate({
      operation: 'CREATE',
      resource,
      namespace,
      namespaceLabels: namespaceLabels.get(namespace),
      object: withoutStatus(object),
    });
    if (evaluated.length === 0) {
      notChecked++;
      notCheckedNamespaces.add(namespace);
      return;
    }
    checked++;
    const violations = evaluated.flatMap((policy) => policy.violations);
    if (violations.length === 0) return;

    const workload = topOwner(object, byUid);
    const key = `${namespace}\u0000${workload.kind}\u0000${workload.name}`;
    const entry = refused.get(key) ?? { namespace, workload, objects: [], messages: [] };
    refused.set(key, entry);
    entry.objects.push({ kind: object.kind, name: object.metadata?.name ?? '' });
    for (const violation of violations) {
      if (!entry.messages.includes(violation.message)) entry.messages.push(violation.message);
    }
    for (const policy of evaluated) {
      const untrusted = stringList(policy.variable('untrustedImages'));
      untrusted.forEach((image) => toMirror.add(image));
      stringList(policy.variable('unpinnedImages')).forEach((image) => unpinned.add(image));
    }
  });
  options.onProgress?.(objects.length, objects.length);

  const sortedRefused = [...refused.values()].sort((a, b) =>
    compare(a.namespace, b.namespace) || compare(a.workload.kind, b.workload.kind) || compare(a.workload.name, b.workload.name));
  return {
    bindings: evaluator.bindings.map((binding) => ({
      policy: binding.spec.policyName, binding: binding.metadata.name, validationActions: binding.spec.validationActions ?? [],
    })),
    objects: objects.length,
    checked,
    notChecked,
    notCheckedNamespaces: [...notCheckedNamespaces].sort(),
    otherKinds,
    refused: sortedRefused,
    imagesToMirror: [...toMirror].sort(),
    imagesToPin: [...unpinned].filter((image) => !toMirror.has(image)).sort(),
  };
}

/** The report as text for a terminal. */
export function formatReport(report: PreflightReport): string {
  const lines: string[] = [];
  const bindings = report.bindings.map((b) => `${b.policy} (binding ${b.binding}, ${b.validationActions.join('+') || 'no actions'})`).join(', ');
  lines.push(`Policy: ${bindings}`);
  lines.push(`Objects: ${report.objects} in the dump; ${report.checked} workloads checked as if created now; `
    + `${report.notChecked} not checked (exempt namespaces: ${report.notCheckedNamespaces.join(', ') || 'none'}); `
    + `${report.otherKinds} of other kinds ignored`);
  lines.push('');
  if (report.refused.length === 0) {
    lines.push('Nothing would be refused.');
    return lines.join('\n') + '\n';
  }
  let namespace: string | undefined;
  for (const entry of report.refused) {
    if (entry.namespace !== namespace) {
      namespace = entry.namespace;
      lines.push(`namespace ${namespace}:`);
    }
    const others = entry.objects.filter((o) => o.kind !== entry.workload.kind || o.name !== entry.workload.name);
    const counts = new Map<string, number>();
    others.forEach((o) => counts.set(o.kind, (counts.get(o.kind) ?? 0) + 1));
    const suffix = counts.size === 0 ? '' : ` (and ${[...counts].map(([kind, count]) => `${count} ${kind}${count === 1 ? '' : 's'}`).join(', ')} it controls)`;
    lines.push(`  ${entry.workload.kind}/${entry.workload.name}${suffix}`);
    entry.messages.forEach((message) => lines.push(`    - ${message}`));
  }
  lines.push('');
  if (report.imagesToMirror.length > 0) {
    lines.push(`Images to mirror (${report.imagesToMirror.length}):`);
    report.imagesToMirror.forEach((image) => lines.push(`  ${image}`));
  }
  if (report.imagesToPin.length > 0) {
    lines.push(`Trusted images to pin by digest (${report.imagesToPin.length}):`);
    report.imagesToPin.forEach((image) => lines.push(`  ${image}`));
  }
  const namespaces = new Set(report.refused.map((entry) => entry.namespace)).size;
  lines.push('');
  lines.push(`${report.refused.length} workload${report.refused.length === 1 ? '' : 's'} in ${namespaces} namespace${namespaces === 1 ? '' : 's'} would be refused.`);
  return lines.join('\n') + '\n';
}

/** Status is what the cluster observed, never part of an admission request's intent. */
function withoutStatus(object: any): any {
  if (object.status === undefined) return object;
  const { status: _status, ...rest } = object;
  return rest;
}

/** Follows controller owner references as far as the dump holds the owners. */
function topOwner(object: any, byUid: Map<string, any>): ObjectRef {
  let current = object;
  const seen = new Set<any>();
  for (;;) {
    seen.add(current);
    const controller = (current.metadata?.ownerReferences ?? []).find((ref: any) => ref.controller) ?? current.metadata?.ownerReferences?.[0];
    if (!controller) break;
    const owner = byUid.get(controller.uid);
    if (!owner || seen.has(owner)) {
      return { kind: controller.kind, name: controller.name };
    }
    current = owner;
  }
  return { kind: current.kind, name: current.metadata?.name ?? '' };
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
