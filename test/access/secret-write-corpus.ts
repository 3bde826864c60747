import { Chart, Testing } from 'cdk8s';
import { HtpasswdSource, PrivateRegistry } from '../../src';
import { AdmissionCase } from '../policy/admission-corpus';
import { AdmissionRequest } from '../policy/admission-harness';

/**
 * Requests the ServiceAccounts of the credentials Jobs (and other users) may send, with the
 * decision the chart's SecretWritePolicy objects must reach, as data: the JS CEL harness runs
 * them (secret-write-policy.admission.test.ts) and a real API server tier can run the same cases
 * against the same manifests (`secretWriteCorpusManifests()`), sending each request as the user
 * in `request.userInfo`.
 *
 * The setup: a registry in namespace `registry` with generated credentials, and pull access for
 * `team-a` and `team-b` whose `default` ServiceAccounts get the pull Secret.
 */
export const SECRET_WRITE_SETUP = {
  namespace: 'registry',
  host: 'registry.mycorp.local',
  pullNamespaces: ['team-a', 'team-b'],
  pullServiceAccounts: ['default'],
  /** `PullAccessOptions.name`, the name of the copy Job's ServiceAccount. */
  pullAccessName: 'apps-pull',
  /** The generator's ServiceAccount: `<registry name>-credentials`. */
  generatorServiceAccount: 'registry-credentials',
} as const;

/** The synthesized objects of the setup, every SecretWritePolicy and binding among them. */
export function secretWriteCorpusManifests(): unknown[] {
  const chart = new Chart(Testing.app(), 'secret-writes', { namespace: SECRET_WRITE_SETUP.namespace });
  const registry = new PrivateRegistry(chart, 'Registry', { host: SECRET_WRITE_SETUP.host, htpasswd: HtpasswdSource.generated() });
  registry.grantPull('Apps', {
    namespaces: [...SECRET_WRITE_SETUP.pullNamespaces],
    serviceAccounts: [...SECRET_WRITE_SETUP.pullServiceAccounts],
    name: SECRET_WRITE_SETUP.pullAccessName,
  });
  return Testing.synth(chart);
}

const serviceAccountUser = (name: string) => ({
  username: `system:serviceaccount:${SECRET_WRITE_SETUP.namespace}:${name}`,
  groups: ['system:serviceaccounts', `system:serviceaccounts:${SECRET_WRITE_SETUP.namespace}`, 'system:authenticated'],
});
const PULL_ACCESS = serviceAccountUser(SECRET_WRITE_SETUP.pullAccessName);
const GENERATOR = serviceAccountUser(SECRET_WRITE_SETUP.generatorServiceAccount);
/** Another ServiceAccount of the registry's namespace, which the policies do not concern. */
const OTHER = serviceAccountUser('registry');

const SECRETS = { group: '', version: 'v1', resource: 'secrets' };
const SERVICE_ACCOUNTS = { group: '', version: 'v1', resource: 'serviceaccounts' };
const DOCKER_CONFIG = 'kubernetes.io/dockerconfigjson';
const DOCKER_CONFIG_DATA = { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') };
/** The API server refuses a token Secret that names no ServiceAccount before admission. */
const FOR_SERVICE_ACCOUNT = (name: string) => ({ 'kubernetes.io/service-account.name': name });

interface SecretParts {
  readonly type?: string;
  readonly data?: Record<string, string>;
  readonly immutable?: boolean;
  readonly annotations?: Record<string, string>;
}

/** A Secret as admission sees it: the API server has defaulted `type` and merged `stringData`. */
function secret(namespace: string, name: string, parts: SecretParts = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, ...(parts.annotations ? { annotations: parts.annotations } : {}) },
    type: parts.type ?? 'Opaque',
    ...(parts.data ? { data: parts.data } : {}),
    ...(parts.immutable !== undefined ? { immutable: parts.immutable } : {}),
  };
}

/**
 * A write of a Secret. An UPDATE replaces `before` (by default the same type and data, not
 * immutable): the Secret a real server holds before the update, which must itself be valid.
 */
function writeSecret(user: { username: string }, operation: 'CREATE' | 'UPDATE', namespace: string, name: string, parts: SecretParts = {}, before: SecretParts = { type: parts.type, data: parts.data }): AdmissionRequest {
  const object = secret(namespace, name, parts);
  return { operation, resource: SECRETS, namespace, object, oldObject: operation === 'UPDATE' ? secret(namespace, name, before) : undefined, userInfo: user };
}

function serviceAccount(namespace: string, name: string, fields: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace, ...metadata }, ...fields };
}

function updateServiceAccount(user: { username: string }, namespace: string, name: string, before: Record<string, unknown>, after: Record<string, unknown>, metadataAfter: Record<string, unknown> = {}): AdmissionRequest {
  return {
    operation: 'UPDATE',
    resource: SERVICE_ACCOUNTS,
    namespace,
    object: serviceAccount(namespace, name, after, metadataAfter),
    oldObject: serviceAccount(namespace, name, before),
    userInfo: user,
  };
}

const ONLY_SECRETS = (names: string) => `may write only the Secrets ${names}, not `;
const PULL_COPIES = ONLY_SECRETS('team-a/registry-pull, team-b/registry-pull');
const GENERATED = ONLY_SECRETS('registry/registry-htpasswd, registry/registry-push, registry/registry-pull');
const ONLY_IMAGE_PULL_SECRET = 'may change a ServiceAccount only by adding registry-pull to its imagePullSecrets';

export const SECRET_WRITE_CORPUS: AdmissionCase[] = [
  // What the copy Job does.
  { name: 'copy Job creates the pull Secret copy', why: 'its one job', decision: 'admit', request: writeSecret(PULL_ACCESS, 'CREATE', 'team-a', 'registry-pull', { type: DOCKER_CONFIG, data: DOCKER_CONFIG_DATA, annotations: { 'cdk8s-trusted-registry/copied-from': 'registry/registry-pull' } }) },
  { name: 'copy Job replaces the copy after a rotation', why: 'its one job', decision: 'admit', request: writeSecret(PULL_ACCESS, 'UPDATE', 'team-b', 'registry-pull', { type: DOCKER_CONFIG, data: DOCKER_CONFIG_DATA }) },
  { name: 'copy Job adds the copy to a listed ServiceAccount', why: 'its one job', decision: 'admit', request: updateServiceAccount(PULL_ACCESS, 'team-a', 'default', { imagePullSecrets: [{ name: 'other' }] }, { imagePullSecrets: [{ name: 'other' }, { name: 'registry-pull' }] }) },
  { name: 'copy Job adds the first imagePullSecrets entry', why: 'its one job', decision: 'admit', request: updateServiceAccount(PULL_ACCESS, 'team-b', 'default', {}, { imagePullSecrets: [{ name: 'registry-pull' }] }) },

  // The review's reproductions (issue 11, finding 1) and their neighbours.
  { name: 'copy Job SA creates a bootstrap token in kube-system', why: 'a bootstrap token authenticates as a node joiner', decision: 'refuse', reason: PULL_COPIES, request: writeSecret(PULL_ACCESS, 'CREATE', 'kube-system', 'bootstrap-token-abcdef', { type: 'bootstrap.kubernetes.io/token', data: { 'token-id': 'YWJjZGVm', 'token-secret': 'MDEyMzQ1Njc4OWFiY2RlZg==', 'usage-bootstrap-authentication': 'dHJ1ZQ==' } }) },
  { name: 'copy Job SA creates a service-account token named like the pull Secret', why: 'it would mint a token for any ServiceAccount of the namespace', decision: 'refuse', reason: 'Secret team-a/registry-pull must be of type kubernetes.io/dockerconfigjson, not kubernetes.io/service-account-token', request: writeSecret(PULL_ACCESS, 'CREATE', 'team-a', 'registry-pull', { type: 'kubernetes.io/service-account-token', annotations: { 'kubernetes.io/service-account.name': 'admin' } }) },
  { name: 'copy Job SA creates an Opaque Secret named like the pull Secret', why: 'only the intended type', decision: 'refuse', reason: 'must be of type kubernetes.io/dockerconfigjson, not Opaque', request: writeSecret(PULL_ACCESS, 'CREATE', 'team-a', 'registry-pull', { data: DOCKER_CONFIG_DATA }) },
  { name: 'copy Job SA creates another dockerconfigjson Secret in a consumer namespace', why: 'only the named Secret', decision: 'refuse', reason: `${PULL_COPIES}team-a/other-pull`, request: writeSecret(PULL_ACCESS, 'CREATE', 'team-a', 'other-pull', { type: DOCKER_CONFIG, data: DOCKER_CONFIG_DATA }) },
  { name: 'copy Job SA writes the pull Secret name in a namespace it was not granted', why: 'only the granted namespaces', decision: 'refuse', reason: `${PULL_COPIES}team-c/registry-pull`, request: writeSecret(PULL_ACCESS, 'CREATE', 'team-c', 'registry-pull', { type: DOCKER_CONFIG, data: DOCKER_CONFIG_DATA }) },
  { name: 'copy Job SA overwrites the source pull Secret', why: 'the source is the generator\'s', decision: 'refuse', reason: `${PULL_COPIES}registry/registry-pull`, request: writeSecret(PULL_ACCESS, 'UPDATE', 'registry', 'registry-pull', { type: DOCKER_CONFIG, data: DOCKER_CONFIG_DATA }) },
  { name: 'copy Job SA adds a key to the copy', why: 'only the intended key', decision: 'refuse', reason: 'Secret team-a/registry-pull may hold only the keys .dockerconfigjson', request: writeSecret(PULL_ACCESS, 'UPDATE', 'team-a', 'registry-pull', { type: DOCKER_CONFIG, data: { ...DOCKER_CONFIG_DATA, token: 'eA==' } }, { type: DOCKER_CONFIG, data: DOCKER_CONFIG_DATA }) },
  { name: 'copy Job SA makes the copy immutable', why: 'rotation must stay possible', decision: 'refuse', reason: 'may not make a Secret immutable', request: writeSecret(PULL_ACCESS, 'UPDATE', 'team-a', 'registry-pull', { type: DOCKER_CONFIG, data: DOCKER_CONFIG_DATA, immutable: true }) },
  { name: 'copy Job SA adds another Secret to a ServiceAccount', why: 'only its own entry', decision: 'refuse', reason: ONLY_IMAGE_PULL_SECRET, request: updateServiceAccount(PULL_ACCESS, 'team-a', 'default', {}, { imagePullSecrets: [{ name: 'registry-pull' }, { name: 'stolen' }] }) },
  { name: 'copy Job SA lists a token Secret in a ServiceAccount\'s secrets', why: 'only imagePullSecrets', decision: 'refuse', reason: ONLY_IMAGE_PULL_SECRET, request: updateServiceAccount(PULL_ACCESS, 'team-a', 'default', {}, { secrets: [{ name: 'admin-token' }] }) },
  { name: 'copy Job SA turns on token automounting', why: 'only imagePullSecrets', decision: 'refuse', reason: ONLY_IMAGE_PULL_SECRET, request: updateServiceAccount(PULL_ACCESS, 'team-a', 'default', { automountServiceAccountToken: false }, { automountServiceAccountToken: true }) },
  { name: 'copy Job SA annotates a ServiceAccount', why: 'only imagePullSecrets', decision: 'refuse', reason: ONLY_IMAGE_PULL_SECRET, request: updateServiceAccount(PULL_ACCESS, 'team-a', 'default', {}, {}, { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/admin' } }) },
  { name: 'copy Job SA updates a ServiceAccount it was not given', why: 'only the listed ServiceAccounts', decision: 'refuse', reason: 'may only update the ServiceAccounts team-a/default, team-b/default, not team-a/admin', request: updateServiceAccount(PULL_ACCESS, 'team-a', 'admin', {}, { imagePullSecrets: [{ name: 'registry-pull' }] }) },
  { name: 'copy Job SA creates a ServiceAccount', why: 'it creates none', decision: 'refuse', reason: 'may only update the ServiceAccounts', request: { operation: 'CREATE', resource: SERVICE_ACCOUNTS, namespace: 'team-a', object: serviceAccount('team-a', 'default'), userInfo: PULL_ACCESS } },

  // What the generator Job does.
  { name: 'generator creates the htpasswd Secret', why: 'its job', decision: 'admit', request: writeSecret(GENERATOR, 'CREATE', 'registry', 'registry-htpasswd', { data: { 'htpasswd-push': 'eA==', 'htpasswd-pull': 'eA==' }, annotations: { 'cdk8s-trusted-registry/credentials-generation': '1' } }) },
  { name: 'generator replaces the push Secret', why: 'its job', decision: 'admit', request: writeSecret(GENERATOR, 'UPDATE', 'registry', 'registry-push', { type: DOCKER_CONFIG, data: DOCKER_CONFIG_DATA }) },
  { name: 'generator creates the pull Secret', why: 'its job', decision: 'admit', request: writeSecret(GENERATOR, 'CREATE', 'registry', 'registry-pull', { type: DOCKER_CONFIG, data: DOCKER_CONFIG_DATA }) },
  { name: 'generator SA creates a service-account token in its namespace', why: 'only its three Secrets', decision: 'refuse', reason: `${GENERATED}registry/registry-admin-token`, request: writeSecret(GENERATOR, 'CREATE', 'registry', 'registry-admin-token', { type: 'kubernetes.io/service-account-token', annotations: { 'kubernetes.io/service-account.name': 'registry-credentials' } }) },
  { name: 'generator SA writes the htpasswd Secret as a token', why: 'only the intended type', decision: 'refuse', reason: 'Secret registry/registry-htpasswd must be of type Opaque, not kubernetes.io/service-account-token', request: writeSecret(GENERATOR, 'CREATE', 'registry', 'registry-htpasswd', { type: 'kubernetes.io/service-account-token', annotations: FOR_SERVICE_ACCOUNT('registry-credentials') }) },
  { name: 'generator SA writes the push Secret as Opaque', why: 'only the intended type', decision: 'refuse', reason: 'must be of type kubernetes.io/dockerconfigjson, not Opaque', request: writeSecret(GENERATOR, 'CREATE', 'registry', 'registry-push', { data: DOCKER_CONFIG_DATA }) },
  { name: 'generator SA adds a key to the htpasswd Secret', why: 'only the intended key', decision: 'refuse', reason: 'Secret registry/registry-htpasswd may hold only the keys htpasswd-push, htpasswd-pull', request: writeSecret(GENERATOR, 'UPDATE', 'registry', 'registry-htpasswd', { data: { 'htpasswd-push': 'eA==', 'htpasswd-pull': 'eA==', 'config.yml': 'eA==' } }) },
  { name: 'generator SA writes a Secret of its name in kube-system', why: 'only its own namespace', decision: 'refuse', reason: `${GENERATED}kube-system/registry-htpasswd`, request: writeSecret(GENERATOR, 'CREATE', 'kube-system', 'registry-htpasswd', { data: { htpasswd: 'eA==' } }) },
  { name: 'generator SA updates a ServiceAccount', why: 'the policy of the generator covers only Secrets; RBAC grants it no ServiceAccount', decision: 'admit', request: updateServiceAccount(GENERATOR, 'registry', 'default', {}, { automountServiceAccountToken: true }) },

  // Everyone else is not this policy's business.
  { name: 'another ServiceAccount creates a token Secret', why: 'the policies bind to the chart\'s ServiceAccounts only', decision: 'admit', request: writeSecret(OTHER, 'CREATE', 'registry', 'anything', { type: 'kubernetes.io/service-account-token', annotations: FOR_SERVICE_ACCOUNT('registry') }) },
  { name: 'a cluster admin creates a bootstrap token', why: 'the policies bind to the chart\'s ServiceAccounts only', decision: 'admit', request: { ...writeSecret({ username: 'x' }, 'CREATE', 'kube-system', 'bootstrap-token-abcdef', { type: 'bootstrap.kubernetes.io/token' }), userInfo: undefined } },
  { name: 'a ServiceAccount of the same name in another namespace writes any Secret', why: 'the user name includes the namespace', decision: 'admit', request: writeSecret({ username: `system:serviceaccount:team-a:${SECRET_WRITE_SETUP.pullAccessName}` }, 'CREATE', 'team-a', 'anything', { type: 'kubernetes.io/service-account-token', annotations: FOR_SERVICE_ACCOUNT('default') }) },
];
