import { AdmissionRequest } from './admission-harness';

/**
 * Admission requests with the decision TrustedImagePolicy must reach for them, for a policy
 * trusting `registry.mycorp.local` and `mirror.mycorp.local/team-a/`, exempting `kube-system` and
 * `registry` (see CORPUS_POLICY).
 */
export interface AdmissionCase {
  readonly name: string;
  readonly why: string;
  readonly request: AdmissionRequest;
  readonly decision: 'admit' | 'refuse';
  /** Text the denial (enforce) or the warning (audit) must contain. */
  readonly reason?: string;
}

export const CORPUS_POLICY = {
  trustedSources: ['registry.mycorp.local', 'mirror.mycorp.local/team-a/'],
  exemptNamespaces: ['kube-system', 'registry'],
};

export const DIGEST = 'sha256:' + '0123456789abcdef'.repeat(4);
const pin = (repository: string) => `${repository}@${DIGEST}`;
const GOOD = pin('registry.mycorp.local/team/app');
const GOOD_MIRROR = pin('mirror.mycorp.local/team-a/app');

const UNTRUSTED = 'images must come from a trusted registry';
const UNPINNED = 'images must be pinned by digest';
const EVAL_ERROR = 'resulted in error';

interface PodSpecParts {
  readonly containers?: unknown[];
  readonly initContainers?: unknown[];
  readonly ephemeralContainers?: unknown[];
  readonly volumes?: unknown[];
}

const containers = (images: string[], prefix = 'c') => images.map((image, i) => ({ name: `${prefix}${i}`, image }));

function podSpec(images: string[], extra: PodSpecParts = {}) {
  return { containers: containers(images), ...extra };
}

function pod(spec: unknown, name = 'app') {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'apps' }, spec };
}

const PODS = { group: '', version: 'v1', resource: 'pods' };

function createPod(spec: unknown, namespace = 'apps'): AdmissionRequest {
  return { operation: 'CREATE', resource: PODS, namespace, object: pod(spec) };
}

function updatePod(oldSpec: unknown, newSpec: unknown, subResource?: string): AdmissionRequest {
  return { operation: 'UPDATE', resource: PODS, subResource, namespace: 'apps', object: pod(newSpec), oldObject: pod(oldSpec) };
}

const WORKLOADS = {
  Deployment: { apiVersion: 'apps/v1', resource: { group: 'apps', version: 'v1', resource: 'deployments' } },
  StatefulSet: { apiVersion: 'apps/v1', resource: { group: 'apps', version: 'v1', resource: 'statefulsets' } },
  DaemonSet: { apiVersion: 'apps/v1', resource: { group: 'apps', version: 'v1', resource: 'daemonsets' } },
  ReplicaSet: { apiVersion: 'apps/v1', resource: { group: 'apps', version: 'v1', resource: 'replicasets' } },
  ReplicationController: { apiVersion: 'v1', resource: { group: '', version: 'v1', resource: 'replicationcontrollers' } },
  Job: { apiVersion: 'batch/v1', resource: { group: 'batch', version: 'v1', resource: 'jobs' } },
  CronJob: { apiVersion: 'batch/v1', resource: { group: 'batch', version: 'v1', resource: 'cronjobs' } },
} as const;
type WorkloadKind = keyof typeof WORKLOADS;

/** A workload the API server accepts: a selector matching the template, and jobs' pods not restarting forever. */
function workload(kind: WorkloadKind, spec: object) {
  const labels = { app: 'x' };
  const template = { metadata: { labels }, spec: kind === 'Job' || kind === 'CronJob' ? { restartPolicy: 'Never', ...spec } : spec };
  // Jobs get a generated selector; ReplicationControllers select by a plain map.
  const selector = kind === 'Job' || kind === 'CronJob' ? undefined : kind === 'ReplicationController' ? labels : { matchLabels: labels };
  const workloadSpec = kind === 'CronJob' ? { schedule: '* * * * *', jobTemplate: { spec: { template } } } : { ...(selector && { selector }), template };
  return { apiVersion: WORKLOADS[kind].apiVersion, kind, metadata: { name: 'app', namespace: 'apps' }, spec: workloadSpec };
}

function createWorkload(kind: WorkloadKind, spec: object): AdmissionRequest {
  return { operation: 'CREATE', resource: WORKLOADS[kind].resource, namespace: 'apps', object: workload(kind, spec) };
}

function refusedImage(name: string, image: string, why: string, reason = UNTRUSTED): AdmissionCase {
  return { name, why, request: createPod(podSpec([image])), decision: 'refuse', reason };
}

const allowed: AdmissionCase[] = [
  { name: 'pinned image from the registry', why: 'trusted host and a full sha256 digest', request: createPod(podSpec([GOOD])), decision: 'admit' },
  { name: 'nested repository path', why: 'any depth under the trusted host', request: createPod(podSpec([pin('registry.mycorp.local/a/b/c/app')])), decision: 'admit' },
  { name: 'tag and digest', why: 'the digest decides what runs; the tag is informational', request: createPod(podSpec([pin('registry.mycorp.local/team/app:v1.2.3')])), decision: 'admit' },
  { name: 'longest tag (128 characters)', why: 'the most the distribution grammar allows', request: createPod(podSpec([pin(`registry.mycorp.local/team/app:${'t'.repeat(128)}`)])), decision: 'admit' },
  { name: 'dots, underscores and dashes in the path', why: 'valid repository components', request: createPod(podSpec([pin('registry.mycorp.local/my_team/app.v2-x__y')])), decision: 'admit' },
  { name: 'several good containers', why: 'every image is trusted and pinned', request: createPod(podSpec([GOOD, pin('registry.mycorp.local/team/sidecar'), GOOD])), decision: 'admit' },
  { name: 'good init and sidecar init containers', why: 'init containers are checked and pass', request: createPod(podSpec([GOOD], { initContainers: [{ name: 'init', image: GOOD }, { name: 'proxy', image: GOOD, restartPolicy: 'Always' }] })), decision: 'admit' },
  { name: 'second trusted source (path prefix)', why: 'mirror.mycorp.local/team-a/ is trusted', request: createPod(podSpec([GOOD_MIRROR])), decision: 'admit' },
  { name: 'both trusted sources in one pod', why: 'each image matches one of the sources', request: createPod(podSpec([GOOD, pin('mirror.mycorp.local/team-a/sub/tool:v1')])), decision: 'admit' },
  { name: 'UPDATE keeping good images', why: 'the new object is still clean', request: updatePod(podSpec([GOOD]), podSpec([GOOD])), decision: 'admit' },
  { name: 'kubectl debug with a good image', why: 'the ephemeral container image is trusted and pinned', request: updatePod(podSpec([GOOD]), podSpec([GOOD], { ephemeralContainers: [{ name: 'debug', image: GOOD }] }), 'ephemeralcontainers'), decision: 'admit' },
  { name: 'good image volume', why: 'ImageVolume references are images too', request: createPod(podSpec([GOOD], { volumes: [{ name: 'data', image: { reference: GOOD } }] })), decision: 'admit' },
  { name: 'ordinary volumes', why: 'volumes without an image source are not images', request: createPod(podSpec([GOOD], { volumes: [{ name: 'cfg', configMap: { name: 'cfg' } }, { name: 'tmp', emptyDir: {} }] })), decision: 'admit' },
  { name: 'exempt kube-system with Docker Hub image', why: 'kube-system is exempt through the binding namespaceSelector', request: createPod(podSpec(['nginx']), 'kube-system'), decision: 'admit' },
  { name: 'exempt registry namespace with unpinned image', why: 'the registry cannot pull itself from itself', request: createPod(podSpec(['docker.io/library/registry:2']), 'registry'), decision: 'admit' },
  { name: 'DELETE of a pod with a bad image', why: 'only CREATE and UPDATE are matched; deleting must always work', request: { operation: 'DELETE', resource: PODS, namespace: 'apps', oldObject: pod(podSpec(['nginx'])) }, decision: 'admit' },
  { name: 'pods/status update of a pod with a bad image', why: 'status updates cannot change images and are not matched', request: { ...updatePod(podSpec(['nginx']), podSpec(['nginx'])), subResource: 'status' }, decision: 'admit' },
  ...(Object.keys(WORKLOADS) as WorkloadKind[]).map((kind): AdmissionCase => ({
    name: `${kind} with good images`,
    why: `${kind} pod templates are checked and pass`,
    request: createWorkload(kind, podSpec([GOOD], { initContainers: containers([GOOD_MIRROR], 'init') })),
    decision: 'admit',
  })),
];

const refusedImages: AdmissionCase[] = [
  refusedImage('Docker Hub short name', 'nginx', 'resolves to docker.io'),
  refusedImage('Docker Hub short name with tag', 'nginx:latest', 'resolves to docker.io'),
  refusedImage('Docker Hub short name with digest', pin('nginx'), 'pinned but from docker.io'),
  refusedImage('Docker Hub org/name with digest', pin('library/nginx'), 'pinned but from docker.io'),
  refusedImage('explicit docker.io', pin('docker.io/library/nginx'), 'docker.io is not trusted'),
  refusedImage('other registry', pin('ghcr.io/org/app'), 'ghcr.io is not trusted'),
  refusedImage('look-alike host suffix', pin('registry.mycorp.local.evil.com/app'), 'a different host that starts with the trusted name'),
  refusedImage('look-alike host extension', pin('registry.mycorp.localx/app'), 'a different host'),
  refusedImage('trusted host as a path', pin('evil.com/registry.mycorp.local/app'), 'the host is evil.com'),
  refusedImage('trusted host as Docker Hub repository', pin('registry.mycorp.local'), 'without a slash the name is docker.io/library/registry.mycorp.local'),
  refusedImage('trusted host as Docker Hub repository with tag', `registry.mycorp.local:v1@${DIGEST}`, 'still docker.io/library/registry.mycorp.local'),
  refusedImage('port variant', pin('registry.mycorp.local:5000/app'), 'host:5000 is a different registry endpoint'),
  refusedImage('uppercase host', pin('REGISTRY.MYCORP.LOCAL/app'), 'case variants are refused, fail closed'),
  refusedImage('mixed-case host', pin('Registry.mycorp.local/app'), 'case variants are refused, fail closed'),
  refusedImage('other team on the mirror', pin('mirror.mycorp.local/team-b/app'), 'only team-a/ is trusted on the mirror'),
  refusedImage('prefix look-alike on the mirror', pin('mirror.mycorp.local/team-a-evil/app'), 'team-a-evil is not under team-a/'),
  refusedImage('mirror host without the trusted path', pin('mirror.mycorp.local/app'), 'the mirror is only trusted below team-a/'),
  refusedImage('uppercase repository path', pin('registry.mycorp.local/App'), 'not a valid reference, so not pinned', UNPINNED),
  refusedImage('no tag and no digest', 'registry.mycorp.local/team/app', 'implicitly :latest', UNPINNED),
  refusedImage(':latest', 'registry.mycorp.local/team/app:latest', 'a tag can move', UNPINNED),
  refusedImage(':v1', 'registry.mycorp.local/team/app:v1', 'a tag can move', UNPINNED),
  refusedImage('short digest', `registry.mycorp.local/team/app@sha256:${'a'.repeat(63)}`, 'a sha256 digest has 64 hex digits', UNPINNED),
  refusedImage('long digest', `registry.mycorp.local/team/app@sha256:${'a'.repeat(65)}`, 'a sha256 digest has 64 hex digits', UNPINNED),
  refusedImage('uppercase hex digest', `registry.mycorp.local/team/app@sha256:${'A'.repeat(64)}`, 'digests are lowercase hex', UNPINNED),
  refusedImage('sha256- in the tag', `registry.mycorp.local/team/app:sha256-${'a'.repeat(64)}`, 'a tag that looks like a digest is still a tag', UNPINNED),
  refusedImage('cosign signature tag', `registry.mycorp.local/team/app:sha256-${'a'.repeat(64)}.sig`, 'a tag, not a digest', UNPINNED),
  refusedImage('digest followed by more path', `${GOOD}/extra`, 'the digest must end the reference', UNPINNED),
  refusedImage('sha512 digest', `registry.mycorp.local/team/app@sha512:${'a'.repeat(128)}`, 'only sha256 is accepted', UNPINNED),
  refusedImage('two digests', `${GOOD}@${DIGEST}`, 'not a valid reference', UNPINNED),
  refusedImage('empty repository path', pin('registry.mycorp.local/'), 'no repository name', UNPINNED),
  refusedImage('over-long tag', pin(`registry.mycorp.local/team/app:${'t'.repeat(129)}`), 'tags are at most 128 characters', UNPINNED),
  refusedImage('over-long tag of dots and dashes', pin(`registry.mycorp.local/team/app:_${'.-'.repeat(64)}`), 'tags are at most 128 characters, whatever they are made of', UNPINNED),
  refusedImage('empty image', '', 'nothing to trust', UNTRUSTED),
  refusedImage('trailing space', `${GOOD} `, 'whitespace is not part of a reference', UNPINNED),
  refusedImage('leading space', ` ${GOOD}`, 'does not start with the trusted host', UNTRUSTED),
  refusedImage('tab inside', `registry.mycorp.local/team/app\t@${DIGEST}`, 'whitespace is not part of a reference', UNPINNED),
  // A multi-line messageExpression result is dropped by the API server; the static message is used.
  refusedImage('trailing newline', `${GOOD}\n`, 'a newline is not part of a reference', 'all images must be pinned by digest (name[:tag]@sha256:<64 lowercase hex>)'),
  // Over 5120 bytes the messageExpression result is dropped as well.
  refusedImage('extremely long untrusted name', pin(`evil.com/${'a'.repeat(10_000)}`), 'untrusted whatever its length', 'all images must come from a trusted registry (mirror.mycorp.local/team-a/, registry.mycorp.local/)'),
];

const refusedPods: AdmissionCase[] = [
  { name: 'bad image in second container', why: 'every container is checked', request: createPod(podSpec([GOOD, 'nginx'])), decision: 'refuse', reason: `${UNTRUSTED} (mirror.mycorp.local/team-a/, registry.mycorp.local/), refused: "nginx"` },
  { name: 'bad init container', why: 'init containers run code too', request: createPod(podSpec([GOOD], { initContainers: containers(['busybox'], 'init') })), decision: 'refuse', reason: '"busybox"' },
  { name: 'bad sidecar init container', why: 'native sidecars (restartPolicy Always) are init containers', request: createPod(podSpec([GOOD], { initContainers: [{ name: 'proxy', image: 'envoyproxy/envoy:v1.30', restartPolicy: 'Always' }] })), decision: 'refuse', reason: '"envoyproxy/envoy:v1.30"' },
  { name: 'kubectl debug with a bad image', why: 'pods/ephemeralcontainers updates are matched', request: updatePod(podSpec([GOOD]), podSpec([GOOD], { ephemeralContainers: [{ name: 'debug', image: 'busybox' }] }), 'ephemeralcontainers'), decision: 'refuse', reason: '"busybox"' },
  { name: 'ephemeral container in CREATE', why: 'ephemeral containers are checked wherever they appear', request: createPod(podSpec([GOOD], { ephemeralContainers: [{ name: 'debug', image: 'busybox' }] })), decision: 'refuse', reason: '"busybox"' },
  { name: 'UPDATE swapping a good image for a bad one', why: 'pod images are mutable; the new object is checked', request: updatePod(podSpec([GOOD]), podSpec(['registry.mycorp.local/team/app:v2'])), decision: 'refuse', reason: UNPINNED },
  { name: 'UPDATE of a workload to a bad image', why: 'workload updates roll out new pods', request: { ...createWorkload('Deployment', podSpec(['nginx'])), operation: 'UPDATE', oldObject: workload('Deployment', podSpec([GOOD])) }, decision: 'refuse', reason: '"nginx"' },
  { name: 'namespace kube-system2', why: 'only exact exempt names are exempt', request: createPod(podSpec(['nginx']), 'kube-system2'), decision: 'refuse', reason: '"nginx"' },
  { name: 'namespace xkube-system', why: 'only exact exempt names are exempt', request: createPod(podSpec(['nginx']), 'xkube-system'), decision: 'refuse', reason: '"nginx"' },
  { name: 'namespace registry-2', why: 'only exact exempt names are exempt', request: createPod(podSpec(['nginx']), 'registry-2'), decision: 'refuse', reason: '"nginx"' },
  { name: 'container without image field', why: 'a missing image counts as "" and is refused', request: createPod({ containers: [{ name: 'c' }] }), decision: 'refuse', reason: 'refused: ""' },
  { name: 'null containers list', why: 'containers is required; evaluation fails and failurePolicy Fail refuses', request: createPod({ containers: null }), decision: 'refuse', reason: EVAL_ERROR },
  { name: 'null container item', why: 'decodes to an empty container without image', request: createPod({ containers: [null] }), decision: 'refuse', reason: 'refused: ""' },
  { name: 'empty spec', why: 'no containers field: evaluation error, fail closed', request: createPod({}), decision: 'refuse', reason: EVAL_ERROR },
  { name: 'pod without spec', why: 'evaluation error, fail closed', request: { operation: 'CREATE', resource: PODS, namespace: 'apps', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } } }, decision: 'refuse', reason: EVAL_ERROR },
  { name: 'containers is not a list', why: 'evaluation error, fail closed', request: createPod({ containers: 'nginx' }), decision: 'refuse', reason: EVAL_ERROR },
  { name: 'image is not a string', why: 'evaluation error, fail closed', request: createPod({ containers: [{ name: 'c', image: 42 }] }), decision: 'refuse', reason: EVAL_ERROR },
  { name: 'bad image volume', why: 'ImageVolume content is pulled like an image', request: createPod(podSpec([GOOD], { volumes: [{ name: 'data', image: { reference: 'quay.io/data/set:v1' } }] })), decision: 'refuse', reason: '"quay.io/data/set:v1"' },
  { name: 'image volume without reference', why: 'counts as "" and is refused', request: createPod(podSpec([GOOD], { volumes: [{ name: 'data', image: { pullPolicy: 'Always' } }] })), decision: 'refuse', reason: 'refused: ""' },
  { name: 'good and bad sources mixed', why: 'one bad image refuses the pod; only bad ones are named', request: createPod(podSpec([GOOD, GOOD_MIRROR, pin('mirror.mycorp.local/team-b/app')])), decision: 'refuse', reason: `refused: "${pin('mirror.mycorp.local/team-b/app')}"` },
  { name: 'CronJob without jobTemplate', why: 'evaluation error, fail closed', request: { operation: 'CREATE', resource: WORKLOADS.CronJob.resource, namespace: 'apps', object: { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' }, spec: { schedule: '* * * * *' } } }, decision: 'refuse', reason: EVAL_ERROR },
  { name: 'Deployment with a bad init container', why: 'templates are checked like pods', request: createWorkload('Deployment', podSpec([GOOD], { initContainers: containers(['busybox'], 'init') })), decision: 'refuse', reason: '"busybox"' },
  ...(Object.keys(WORKLOADS) as WorkloadKind[]).map((kind): AdmissionCase => ({
    name: `${kind} with a bad image`,
    why: `${kind} pod templates are checked at apply time`,
    request: createWorkload(kind, podSpec([GOOD, 'registry.mycorp.local/team/app:latest'])),
    decision: 'refuse',
    reason: `${UNPINNED} (name[:tag]@sha256:<64 lowercase hex>), refused: "registry.mycorp.local/team/app:latest"`,
  })),
];

/** A pod (or workload) admitted before the policy existed, running images the policy refuses. */
const LEGACY = podSpec(['nginx:1.27', GOOD], {
  initContainers: containers(['busybox'], 'init'),
  volumes: [{ name: 'data', image: { reference: 'quay.io/data/set:v1' } }],
});

function updateWorkload(kind: WorkloadKind, oldSpec: object, newSpec: object, change: (object: any) => void = () => {}): AdmissionRequest {
  const object: any = workload(kind, newSpec);
  change(object);
  return { operation: 'UPDATE', resource: WORKLOADS[kind].resource, namespace: 'apps', object, oldObject: workload(kind, oldSpec) };
}

function withPodMetadata(request: AdmissionRequest, metadata: object, oldMetadata: object = {}): AdmissionRequest {
  const object = request.object as { metadata: object };
  const oldObject = request.oldObject as { metadata: object };
  return { ...request, object: { ...object, metadata: { ...object.metadata, ...metadata } }, oldObject: { ...oldObject, metadata: { ...oldObject.metadata, ...oldMetadata } } };
}

// UPDATE semantics: only images that are new or changed compared with oldObject (per list and
// item name) are checked, so objects admitted before enforce can still be updated, while no
// rename, move or addition brings an unchecked image in.
const updates: AdmissionCase[] = [
  { name: 'UPDATE removing a finalizer from a pod admitted before enforce', why: 'its images are unchanged, so the pod can terminate', request: withPodMetadata(updatePod(LEGACY, LEGACY), { finalizers: [] }, { finalizers: ['example.com/cleanup'] }), decision: 'admit' },
  { name: 'UPDATE adding a label to a pod admitted before enforce', why: 'metadata-only change', request: withPodMetadata(updatePod(LEGACY, LEGACY), { labels: { team: 'a' } }), decision: 'admit' },
  ...(Object.keys(WORKLOADS) as WorkloadKind[]).map((kind): AdmissionCase => ({
    name: `label-only UPDATE of a ${kind} admitted before enforce`,
    why: 'the pod template images are unchanged',
    request: updateWorkload(kind, LEGACY, LEGACY, (object) => { object.metadata.labels = { team: 'a' }; }),
    decision: 'admit',
  })),
  { name: 'scaling a Deployment admitted before enforce', why: 'replicas change, images do not (new pods are still checked on CREATE)', request: updateWorkload('Deployment', LEGACY, LEGACY, (object) => { object.spec.replicas = 5; }), decision: 'admit' },
  { name: 'UPDATE pinning one image of an old pod, keeping the others', why: 'only the changed slot is checked and it is good', request: updatePod(LEGACY, { ...LEGACY, containers: containers([GOOD, GOOD]) }), decision: 'admit' },
  { name: 'kubectl debug with a good image on a pod admitted before enforce', why: 'the new ephemeral container is checked and good; the old images are not re-checked', request: updatePod(LEGACY, { ...LEGACY, ephemeralContainers: [{ name: 'debug', image: GOOD }] }, 'ephemeralcontainers'), decision: 'admit' },
  // A pod's containers cannot be removed (the API server refuses it before admission); a template's can.
  { name: 'UPDATE removing a bad container from a Deployment admitted before enforce', why: 'nothing new is introduced', request: updateWorkload('Deployment', LEGACY, { ...LEGACY, containers: [{ name: 'c1', image: GOOD }] }), decision: 'admit' },
  { name: 'smuggling: rename a container keeping its bad image', why: 'the slot is identified by list and name, so a renamed container is new', request: updatePod(LEGACY, { ...LEGACY, containers: [{ name: 'renamed', image: 'nginx:1.27' }, { name: 'c1', image: GOOD }] }), decision: 'refuse', reason: 'refused: "nginx:1.27"' },
  { name: 'smuggling: move an image from initContainers to containers', why: 'the slot includes the list', request: updatePod(LEGACY, { ...LEGACY, containers: [...LEGACY.containers, { name: 'init0', image: 'busybox' }] }), decision: 'refuse', reason: 'refused: "busybox"' },
  { name: 'smuggling: move an image from containers to initContainers', why: 'the slot includes the list', request: updatePod(LEGACY, { ...LEGACY, initContainers: [{ name: 'c0', image: 'nginx:1.27' }] }), decision: 'refuse', reason: 'refused: "nginx:1.27"' },
  { name: 'smuggling: move an image from an image volume to a container', why: 'the slot includes the list', request: updatePod(LEGACY, { ...LEGACY, containers: [...LEGACY.containers, { name: 'data', image: 'quay.io/data/set:v1' }] }), decision: 'refuse', reason: 'refused: "quay.io/data/set:v1"' },
  { name: 'smuggling: rename an image volume keeping its reference', why: 'the slot includes the volume name', request: updatePod(LEGACY, { ...LEGACY, volumes: [{ name: 'other', image: { reference: 'quay.io/data/set:v1' } }] }), decision: 'refuse', reason: 'refused: "quay.io/data/set:v1"' },
  { name: 'smuggling: swap images between two containers', why: 'both slots change, so both images are checked', request: updatePod(LEGACY, { ...LEGACY, containers: [{ name: 'c0', image: GOOD }, { name: 'c1', image: 'nginx:1.27' }] }), decision: 'refuse', reason: 'refused: "nginx:1.27"' },
  { name: 'smuggling: add a container reusing an old bad image under a new name', why: 'a new slot', request: updatePod(LEGACY, { ...LEGACY, containers: [...LEGACY.containers, { name: 'c2', image: 'nginx:1.27' }] }), decision: 'refuse', reason: 'refused: "nginx:1.27"' },
  { name: 'smuggling: replace a bad image with another bad image', why: 'a changed slot', request: updatePod(LEGACY, { ...LEGACY, containers: [{ name: 'c0', image: 'nginx:1.28' }, { name: 'c1', image: GOOD }] }), decision: 'refuse', reason: 'refused: "nginx:1.28"' },
  { name: 'smuggling: kubectl debug with a bad image on a pod admitted before enforce', why: 'a new ephemeral container on the subresource is checked', request: updatePod(LEGACY, { ...LEGACY, ephemeralContainers: [{ name: 'debug', image: 'busybox' }] }, 'ephemeralcontainers'), decision: 'refuse', reason: 'refused: "busybox"' },
  { name: 'smuggling: ephemeral container copying an old container\'s name and image', why: 'the slot includes the list', request: updatePod(LEGACY, { ...LEGACY, ephemeralContainers: [{ name: 'c0', image: 'nginx:1.27' }] }, 'ephemeralcontainers'), decision: 'refuse', reason: 'refused: "nginx:1.27"' },
  { name: 'smuggling: Deployment template gains a bad sidecar next to old bad images', why: 'a new slot in the template', request: updateWorkload('Deployment', LEGACY, { ...LEGACY, containers: [...LEGACY.containers, { name: 'sidecar', image: 'envoyproxy/envoy:v1.30' }] }), decision: 'refuse', reason: 'refused: "envoyproxy/envoy:v1.30"' },
  // A pod's spec is immutable but for images, so the API server itself refuses the pod renames and
  // moves above before admission; a template's is not, so there the policy alone stops them.
  { name: 'smuggling: Deployment renames a container keeping its bad image', why: 'a renamed slot in the template', request: updateWorkload('Deployment', LEGACY, { ...LEGACY, containers: [{ name: 'renamed', image: 'nginx:1.27' }, { name: 'c1', image: GOOD }] }), decision: 'refuse', reason: 'refused: "nginx:1.27"' },
  { name: 'smuggling: StatefulSet moves an image from initContainers to containers', why: 'the slot includes the list', request: updateWorkload('StatefulSet', LEGACY, { ...LEGACY, initContainers: [], containers: [...LEGACY.containers, { name: 'init0', image: 'busybox' }] }), decision: 'refuse', reason: 'refused: "busybox"' },
  { name: 'smuggling: DaemonSet renames an image volume keeping its reference', why: 'the slot includes the volume name', request: updateWorkload('DaemonSet', LEGACY, { ...LEGACY, volumes: [{ name: 'other', image: { reference: 'quay.io/data/set:v1' } }] }), decision: 'refuse', reason: 'refused: "quay.io/data/set:v1"' },
  { name: 'smuggling: CronJob renames its init container', why: 'a renamed slot in the job template', request: updateWorkload('CronJob', LEGACY, { ...LEGACY, initContainers: containers(['busybox'], 'setup') }), decision: 'refuse', reason: 'refused: "busybox"' },
  { name: 'UPDATE of an old pod to an unpinned trusted image', why: 'a changed slot is checked for the digest too', request: updatePod(LEGACY, { ...LEGACY, containers: [{ name: 'c0', image: 'registry.mycorp.local/team/app:v2' }, { name: 'c1', image: GOOD }] }), decision: 'refuse', reason: `${UNPINNED} (name[:tag]@sha256:<64 lowercase hex>), refused: "registry.mycorp.local/team/app:v2"` },
];

/**
 * The API server stops a CEL evaluation past 1,000,000 cost units (PerCallLimit), and the policy
 * then fails closed. The `unpinnedImages` variable's `matches()` costs about
 * ceil((1 + length) / 10) × 35 per image (cel-go: string length times pattern length), so the
 * limit lies near 2,500 containers of ~100-character images, or one image of ~285,000 characters.
 * The cases stay well clear of it on either side, where every cost model agrees.
 */
const manyGood = (count: number) => Array.from({ length: count }, (_, i) => pin(`registry.mycorp.local/team/app${i}`));
const COST_LIMIT = 'actual cost limit exceeded';
const costLimits: AdmissionCase[] = [
  { name: '250 good containers', why: 'far below the CEL cost limit', request: createPod(podSpec(manyGood(250))), decision: 'admit' },
  { name: 'a 20,000-character good image', why: 'long, but far below the CEL cost limit', request: createPod(podSpec([pin(`registry.mycorp.local/${'a'.repeat(20_000)}`)])), decision: 'admit' },
  { name: '4,000 good containers', why: 'past the CEL cost limit: the evaluation is stopped and the policy fails closed', request: createPod(podSpec(manyGood(4_000))), decision: 'refuse', reason: COST_LIMIT },
  { name: 'a 400,000-character good image', why: 'past the CEL cost limit: the evaluation is stopped and the policy fails closed', request: createPod(podSpec([pin(`registry.mycorp.local/${'a'.repeat(400_000)}`)])), decision: 'refuse', reason: COST_LIMIT },
];

export const CORPUS: readonly AdmissionCase[] = [...allowed, ...refusedImages, ...refusedPods, ...updates, ...costLimits];
