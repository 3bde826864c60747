import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import {
  KubeValidatingAdmissionPolicy,
  KubeValidatingAdmissionPolicyBinding,
  KubeValidatingAdmissionPolicyBindingV1Beta1,
  KubeValidatingAdmissionPolicyV1Beta1,
  NamedRuleWithOperations,
  ValidatingAdmissionPolicyBindingSpec,
  ValidatingAdmissionPolicySpec,
} from '../../imports/k8s';
import { makeClusterScoped } from '../cluster-scoped';
import { invalid, REPOSITORY_COMPONENT, validateHost, validateNamespace, validateObjectName, validateEnumMember, validateUnique } from '../validation';
import { NAMESPACE_NAME_LABEL } from '../well-known-labels';

/** What the API server does with a request that breaks the policy. */
export enum PolicyMode {
  /** Reject the request (validationActions `[Deny]`). */
  ENFORCE = 'ENFORCE',
  /** Admit the request, return a warning to the client and record an audit annotation (validationActions `[Warn, Audit]`). */
  AUDIT = 'AUDIT',
}

/** API version of `admissionregistration.k8s.io` used for the policy and its binding. */
export enum AdmissionPolicyApiVersion {
  /** `admissionregistration.k8s.io/v1`: GA, served by Kubernetes 1.30 and later. */
  V1 = 'v1',
  /**
   * `admissionregistration.k8s.io/v1beta1`: Kubernetes 1.28 and 1.29. The API server needs
   * `--feature-gates=ValidatingAdmissionPolicy=true` and
   * `--runtime-config=admissionregistration.k8s.io/v1beta1=true`, otherwise the objects are
   * refused (or, worse, the policy is stored but never enforced).
   */
  V1BETA1 = 'v1beta1',
}

export interface TrustedImagePolicyProps {
  /**
   * Where images may come from: registry hosts (`registry.mycorp.local`) or host/path prefixes
   * (`registry.mycorp.local/team-a/`). An image is trusted when it starts with `<host>/` or with
   * the prefix (normalized to end with `/`), compared case-sensitively, so look-alike hosts
   * (`registry.mycorp.local.evil.com`), other ports (`registry.mycorp.local:5000`) and Docker Hub
   * names are refused. Lowercase, no scheme, port, wildcard or whitespace; at least one entry.
   */
  readonly trustedSources: string[];

  /**
   * Name of the ValidatingAdmissionPolicy and of its binding.
   * @default 'trusted-images'
   */
  readonly name?: string;

  /**
   * Namespaces the policy does not apply to, matched on the `kubernetes.io/metadata.name` label
   * that the API server sets on every namespace. The chart deploying the registry should add the
   * registry's own namespace. A list without `kube-system` is refused unless
   * `enforceInKubeSystem` is set (see there).
   * @default ['kube-system']
   */
  readonly exemptNamespaces?: string[];

  /**
   * Acknowledges that the policy enforces in `kube-system` (that `exemptNamespaces` does not list
   * it). The cluster's own components (CoreDNS, kube-proxy, the CNI, cloud controllers) run there
   * from public images; once enforced, each of them is refused when its pod is recreated unless
   * every one of their images is mirrored into a trusted registry and their manifests reference it
   * by digest, which can leave the cluster without DNS or networking. Only meaningful in
   * `PolicyMode.ENFORCE`; audit mode never refuses anything.
   * @default false - `kube-system` must be exempt in enforce mode
   */
  readonly enforceInKubeSystem?: boolean;

  /**
   * Whether violations are rejected or only reported.
   * @default PolicyMode.ENFORCE
   */
  readonly mode?: PolicyMode;

  /**
   * Also check pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets,
   * ReplicationControllers, Jobs and CronJobs, so a bad image is refused when the workload is
   * applied instead of when its controller later fails to create pods.
   * @default true
   */
  readonly workloads?: boolean;

  /**
   * API version of the policy objects. Use `V1BETA1` only for Kubernetes 1.28–1.29 clusters with
   * the `ValidatingAdmissionPolicy` feature gate and the `admissionregistration.k8s.io/v1beta1`
   * runtime config enabled.
   * @default AdmissionPolicyApiVersion.V1
   */
  readonly apiVersion?: AdmissionPolicyApiVersion;
}

const DEFAULT_NAME = 'trusted-images';
const KUBE_SYSTEM = 'kube-system';
const DEFAULT_EXEMPT_NAMESPACES = [KUBE_SYSTEM];


/**
 * A complete image reference pinned by digest: lowercase host, one or more path components, an
 * optional tag, then `@sha256:` and exactly 64 lowercase hex digits at the very end. Written
 * without backslashes so it embeds in a CEL string literal unchanged and means the same in RE2
 * (API server) and JavaScript. The tag's length limit is OVERLONG_TAG_PATTERN's: the API server
 * compiles every pattern again on each request (it plans its programs anew to track their cost),
 * and `{0,127}` compiles to 127 nested alternatives, which took two thirds of the compile time.
 */
const PINNED_IMAGE_PATTERN =
  '^[a-z0-9]+(?:(?:[.]|-+)[a-z0-9]+)*' +
  `(?:/${REPOSITORY_COMPONENT})+` +
  '(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?' +
  '@sha256:[0-9a-f]{64}$';

/**
 * In a reference PINNED_IMAGE_PATTERN matches, a tag of more than the 128 characters the
 * distribution grammar allows: host and path hold no `:`, and the digest's is followed by 64.
 */
const OVERLONG_TAG_PATTERN = ':[A-Za-z0-9_.-]{129}';

/** Image-bearing lists of a pod spec, with the field that holds the image of each item. */
const IMAGE_LISTS: ReadonlyArray<{ readonly list: string; readonly image: string; readonly only?: string }> = [
  { list: 'containers', image: 'image' },
  { list: 'initContainers', image: 'image' },
  { list: 'ephemeralContainers', image: 'image' },
  // Image volumes (KEP-4639): only volumes with an `image` source are images.
  { list: 'volumes', image: 'image.reference', only: 'image' },
];

/** `spec.<list>`, or `[]` when the optional list is absent (`containers` is required, so never defaulted). */
function listOf(spec: string, list: string): string {
  return list === 'containers' ? `${spec}.containers` : `(has(${spec}.${list}) ? ${spec}.${list} : [])`;
}

/** The image of list item `item`; a missing image counts as `''` so it is refused. */
function imageOf(item: string, field: string): string {
  const [first, second] = field.split('.');
  return second === undefined
    ? `(has(${item}.${first}) ? ${item}.${first} : '')`
    : `(has(${item}.${first}.${second}) ? ${item}.${first}.${second} : '')`;
}

/**
 * Identity of one image slot: `<list>/<item name>=<image>`. Item names are DNS labels (validated by
 * the API server before admission), so they hold neither `/` nor `=` and the key is unambiguous.
 */
function slotKey(list: string, item: string, field: string): string {
  return `'${list}/' + ${item}.name + '=' + ${imageOf(item, field)}`;
}

/** Every image slot of the old object on UPDATE (none on CREATE), as `slotKey` strings. */
const OLD_SLOTS_EXPRESSION = 'oldObject == null ? [] : ' + IMAGE_LISTS.map(({ list, image, only }) => {
  const items = listOf('variables.oldPodSpec', list);
  const selected = only ? `${items}.filter(v, has(v.${only}))` : items;
  return `${selected}.map(v, ${slotKey(list, 'v', image)})`;
}).join(' + ');

/** Every image of the pod spec, in a fixed order: what a CREATE introduces. */
const ALL_IMAGES_EXPRESSION = IMAGE_LISTS.map(({ list, image, only }) => {
  const items = listOf('variables.podSpec', list);
  const selected = only ? `${items}.filter(v, has(v.${only}))` : items;
  return `${selected}.map(v, ${imageOf('v', image)})`;
}).join(' + ');

/**
 * The images an UPDATE introduces, in the same order: only those whose slot (list, item name,
 * image) the old object did not have, so finalizer removal, label changes and scaling of objects
 * admitted before the policy pass, while any new or changed image (including a renamed container,
 * an image moved to another list, or a new ephemeral container) is checked. `size(...) == 0 ||`
 * makes it every image when there is no old object, for evaluators that compute every variable.
 */
const CHANGED_IMAGES_EXPRESSION = IMAGE_LISTS.map(({ list, image, only }) => {
  const items = listOf('variables.podSpec', list);
  const isNew = `(size(variables.oldSlots) == 0 || !((${slotKey(list, 'v', image)}) in variables.oldSlots))`;
  const condition = only ? `has(v.${only}) && ${isNew}` : isNew;
  return `${items}.filter(v, ${condition}).map(v, ${imageOf('v', image)})`;
}).join(' + ');

/**
 * Admits only images pulled from trusted registries and pinned by digest: a
 * ValidatingAdmissionPolicy (id `Resource`) checking pods (including `kubectl debug` ephemeral
 * containers and image volumes) and, optionally, workload pod templates, plus the
 * ValidatingAdmissionPolicyBinding (id `Binding`) that enforces it outside the exempt namespaces.
 */
export class TrustedImagePolicy extends Construct {
  /** Name of the ValidatingAdmissionPolicy. */
  public readonly policyName: string;
  /** Name of the ValidatingAdmissionPolicyBinding (same as the policy). */
  public readonly bindingName: string;
  /** Normalized trusted prefixes, each ending with `/`, sorted. */
  public readonly trustedSources: string[];
  /** Namespaces the binding skips, sorted. */
  public readonly exemptNamespaces: string[];
  /** Enforcement mode. */
  public readonly mode: PolicyMode;
  /** `validationActions` of the binding, derived from `mode`. */
  public readonly validationActions: string[];
  /** The ValidatingAdmissionPolicy object. */
  public readonly policy: ApiObject;
  /** The ValidatingAdmissionPolicyBinding object. */
  public readonly binding: ApiObject;

  constructor(scope: Construct, id: string, props: TrustedImagePolicyProps) {
    super(scope, id);

    this.policyName = validateObjectName('name', props.name ?? DEFAULT_NAME);
    this.bindingName = this.policyName;
    this.trustedSources = normalizeTrustedSources(props.trustedSources);
    this.exemptNamespaces = normalizeExemptNamespaces(props.exemptNamespaces ?? DEFAULT_EXEMPT_NAMESPACES);
    this.mode = validateEnumMember('mode', props.mode ?? PolicyMode.ENFORCE, PolicyMode, 'PolicyMode');
    if (this.mode === PolicyMode.ENFORCE && !this.exemptNamespaces.includes(KUBE_SYSTEM) && props.enforceInKubeSystem !== true) {
      invalid('exemptNamespaces', `must include "${KUBE_SYSTEM}" in enforce mode unless 'enforceInKubeSystem' is true: `
        + 'the cluster\'s own components (CoreDNS, kube-proxy, the CNI) run there from public images and would be refused when '
        + 'their pods are recreated, which can lock the cluster out; mirror their images and run `trusted-registry preflight` first', this.exemptNamespaces);
    }
    this.validationActions = this.mode === PolicyMode.ENFORCE ? ['Deny'] : ['Warn', 'Audit'];

    const policySpec = this.policySpec(props.workloads ?? true);
    const bindingSpec = this.bindingSpec();
    const apiVersion = validateEnumMember('apiVersion', props.apiVersion ?? AdmissionPolicyApiVersion.V1, AdmissionPolicyApiVersion, 'AdmissionPolicyApiVersion');
    if (apiVersion === AdmissionPolicyApiVersion.V1) {
      this.policy = new KubeValidatingAdmissionPolicy(this, 'Resource', { metadata: { name: this.policyName }, spec: policySpec });
      this.binding = new KubeValidatingAdmissionPolicyBinding(this, 'Binding', { metadata: { name: this.bindingName }, spec: bindingSpec });
    } else {
      // The v1beta1 schema is field-for-field the same as v1 for everything this policy uses.
      this.policy = new KubeValidatingAdmissionPolicyV1Beta1(this, 'Resource', { metadata: { name: this.policyName }, spec: policySpec });
      this.binding = new KubeValidatingAdmissionPolicyBindingV1Beta1(this, 'Binding', { metadata: { name: this.bindingName }, spec: bindingSpec });
    }
    makeClusterScoped(this.policy);
    makeClusterScoped(this.binding);
  }

  private policySpec(workloads: boolean): ValidatingAdmissionPolicySpec {
    const trustedCheck = this.trustedSources.map((source) => `image.startsWith('${source}')`).join(' || ');
    const sourceList = this.trustedSources.join(', ');
    return {
      failurePolicy: 'Fail',
      matchConstraints: {
        // Requests in other versions of these kinds are converted to v1, the shape the expressions read.
        matchPolicy: 'Equivalent',
        resourceRules: resourceRules(workloads),
      },
      variables: [
        { name: 'podSpec', expression: workloads ? podSpecOfAnyWorkload('object') : 'object.spec' },
        // null on CREATE; only read (through oldSlots) on UPDATE. The pod spec comes first: the
        // type checker gives a conditional the type of its first branch, and `null` first would
        // type the variable as null ("type 'null' does not support field selection" in oldSlots).
        { name: 'oldPodSpec', expression: `oldObject != null ? ${workloads ? `(${podSpecOfAnyWorkload('oldObject')})` : 'oldObject.spec'} : null` },
        { name: 'oldSlots', expression: OLD_SLOTS_EXPRESSION },
        { name: 'allImages', expression: ALL_IMAGES_EXPRESSION },
        { name: 'changedImages', expression: CHANGED_IMAGES_EXPRESSION },
        // Variables are evaluated when first read, and the API server plans each expression it
        // evaluates anew on every request: a CREATE (the common case) never reads, and so never
        // pays for, the UPDATE-only variables above (oldPodSpec, oldSlots, changedImages).
        { name: 'images', expression: 'oldObject == null ? variables.allImages : variables.changedImages' },
        // Source strings are validated to [a-z0-9._/-], so quoting them in CEL needs no escaping.
        { name: 'untrustedImages', expression: `variables.images.filter(image, !(${trustedCheck}))` },
        { name: 'unpinnedImages', expression: `variables.images.filter(image, !image.matches('${PINNED_IMAGE_PATTERN}') || image.matches('${OVERLONG_TAG_PATTERN}'))` },
      ],
      validations: [
        {
          expression: 'size(variables.untrustedImages) == 0',
          message: `all images must come from a trusted registry (${sourceList})`,
          messageExpression: `'images must come from a trusted registry (${sourceList}), refused: ' + variables.untrustedImages.map(image, '"' + image + '"').join(', ')`,
        },
        {
          expression: 'size(variables.unpinnedImages) == 0',
          message: 'all images must be pinned by digest (name[:tag]@sha256:<64 lowercase hex>)',
          messageExpression: `'images must be pinned by digest (name[:tag]@sha256:<64 lowercase hex>), refused: ' + variables.unpinnedImages.map(image, '"' + image + '"').join(', ')`,
        },
      ],
    };
  }

  private bindingSpec(): ValidatingAdmissionPolicyBindingSpec {
    return {
      policyName: this.policyName,
      validationActions: this.validationActions,
      // NotIn with no values is invalid, so no exemptions means no selector (every namespace).
      matchResources: this.exemptNamespaces.length === 0 ? {} : {
        namespaceSelector: {
          matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'NotIn', values: this.exemptNamespaces }],
        },
      },
    };
  }
}

function resourceRules(workloads: boolean): NamedRuleWithOperations[] {
  const rule = (apiGroup: string, resources: string[]): NamedRuleWithOperations => ({
    apiGroups: [apiGroup],
    apiVersions: ['v1'],
    operations: ['CREATE', 'UPDATE'],
    resources,
    scope: 'Namespaced',
  });
  // `pods/ephemeralcontainers` is the subresource `kubectl debug` updates; `pods` alone does not match it.
  const pods = ['pods', 'pods/ephemeralcontainers'];
  if (!workloads) {
    return [rule('', pods)];
  }
  return [
    rule('', [...pods, 'replicationcontrollers']),
    rule('apps', ['daemonsets', 'deployments', 'replicasets', 'statefulsets']),
    rule('batch', ['cronjobs', 'jobs']),
  ];
}

/** Pods carry the spec directly, CronJobs two templates down, every other workload in `spec.template`. */
function podSpecOfAnyWorkload(object: 'object' | 'oldObject'): string {
  return `${object}.kind == 'Pod' ? ${object}.spec : `
    + `(${object}.kind == 'CronJob' ? ${object}.spec.jobTemplate.spec.template.spec : ${object}.spec.template.spec)`;
}

function normalizeTrustedSources(sources: readonly string[]): string[] {
  if (sources.length === 0) {
    invalid('trustedSources', 'must list at least one registry host or host/path prefix', sources);
  }
  const normalized = sources.map(normalizeTrustedSource);
  validateUnique('trustedSources', normalized);
  return [...normalized].sort();
}

/** Checks one source and returns it as a prefix ending with `/`. */
function normalizeTrustedSource(source: string): string {
  const prop = 'trustedSources';
  if (source.includes('://')) {
    invalid(prop, 'must not contain a scheme (write "registry.example.com", not "https://registry.example.com")', source);
  }
  if (/[*?]/.test(source)) {
    invalid(prop, 'must not contain wildcards; list a host or a host/path prefix instead', source);
  }
  if (source !== source.toLowerCase()) {
    invalid(prop, 'must be lowercase (image references are matched case-sensitively and registries use lowercase names)', source);
  }
  const [host, ...path] = source.split('/');
  validateHost(prop, host);
  if (path.length > 0 && path[path.length - 1] === '') {
    path.pop(); // a single trailing slash is allowed
  }
  const component = new RegExp(`^${REPOSITORY_COMPONENT}$`);
  for (const part of path) {
    if (!component.test(part)) {
      invalid(prop, 'path must be "/"-separated lowercase repository components (letters, digits, ".", "_", "-"), e.g. "registry.example.com/team-a/"', source);
    }
  }
  return [host, ...path].join('/') + '/';
}

function normalizeExemptNamespaces(namespaces: readonly string[]): string[] {
  namespaces.forEach((namespace) => validateNamespace('exemptNamespaces', namespace));
  validateUnique('exemptNamespaces', namespaces);
  return [...namespaces].sort();
}

