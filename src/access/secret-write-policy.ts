import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { makeClusterScoped } from '../cluster-scoped';
import { invalid, isDnsSubdomain, requireChartNamespace, validateNamespace, validateObjectName } from '../validation';

/** A Secret a ServiceAccount of the chart may create and update. */
export interface WritableSecret {
  /** Namespace of the Secret. */
  readonly namespace: string;

  /** Name of the Secret. */
  readonly name: string;

  /** The only type the Secret may have, e.g. `Opaque` or `kubernetes.io/dockerconfigjson`. */
  readonly type: string;

  /** The only data keys the Secret may hold. */
  readonly keys: string[];
}

/** ServiceAccounts whose `imagePullSecrets` a ServiceAccount of the chart may extend by one Secret. */
export interface ImagePullSecretGrant {
  /** The namespaces of the ServiceAccounts. */
  readonly namespaces: string[];

  /** The ServiceAccounts, in every one of `namespaces`. */
  readonly serviceAccounts: string[];

  /** The one entry the ServiceAccount of the chart may add to (or drop from) their `imagePullSecrets`. */
  readonly secretName: string;
}

/** Props of `SecretWritePolicy`. */
export interface SecretWritePolicyProps {
  /** The ServiceAccount, in the chart's namespace, whose writes the policy limits. */
  readonly serviceAccountName: string;

  /** Every Secret it may create or update; at least one. */
  readonly secrets: WritableSecret[];

  /**
   * ServiceAccounts it may update, only by adding the Secret to their `imagePullSecrets`.
   * @default - it may not create or update any ServiceAccount
   */
  readonly imagePullSecretGrant?: ImagePullSecretGrant;
}

/**
 * A ValidatingAdmissionPolicy (id `Resource`) and its binding (id `Binding`) that refuse every
 * create or update of a Secret or ServiceAccount by one ServiceAccount of the chart, except
 * writing the named Secrets, with their type and data keys, and adding one entry to the
 * `imagePullSecrets` of the named ServiceAccounts.
 *
 * RBAC cannot do this alone: the authorizer does not see the name of an object being created,
 * nor any field of any object, so a Role that lets a Job create its Secret lets it create any
 * Secret of any type in that namespace (a `bootstrap.kubernetes.io/token` in `kube-system`, or a
 * `kubernetes.io/service-account-token` for an admin ServiceAccount). Admission sees the object.
 * The policy matches requests whose user is exactly `system:serviceaccount:<namespace>:<name>`,
 * in every namespace, so it needs no list of namespaces to stay complete. It fails closed
 * (`failurePolicy: Fail`) and needs Kubernetes 1.30 or later, like `TrustedImagePolicy`.
 */
export class SecretWritePolicy extends Construct {
  /** The policy. */
  public readonly policy: ApiObject;
  /** The user name of the ServiceAccount the policy binds to. */
  public readonly username: string;

  constructor(scope: Construct, id: string, props: SecretWritePolicyProps) {
    super(scope, id);
    const namespace = requireChartNamespace(this, 'the ServiceAccount it limits lives there');
    validateObjectName('serviceAccountName', props.serviceAccountName);
    if (props.secrets.length === 0) {
      invalid('secrets', 'must list at least one Secret', props.secrets);
    }
    props.secrets.forEach((secret, index) => {
      validateNamespace(`secrets[${index}].namespace`, secret.namespace);
      validateObjectName(`secrets[${index}].name`, secret.name);
      if (!/^[-./a-zA-Z0-9]+$/.test(secret.type)) {
        invalid(`secrets[${index}].type`, 'must be a Secret type such as "Opaque" or "kubernetes.io/dockerconfigjson"', secret.type);
      }
      secret.keys.forEach((key) => {
        if (!/^[-._a-zA-Z0-9]+$/.test(key)) {
          invalid(`secrets[${index}].keys[]`, 'must be a Secret data key (letters, digits, "-", "_" and ".")', key);
        }
      });
    });
    this.username = `system:serviceaccount:${namespace}:${props.serviceAccountName}`;
    const name = `${props.serviceAccountName}.${namespace}.secret-writes.cdk8s-trusted-registry.io`;
    if (!isDnsSubdomain(name)) {
      invalid('serviceAccountName', `must be short enough for the policy name "${name}" to be a DNS subdomain (at most 253 characters)`, props.serviceAccountName);
    }

    const secretTypes = celMap(props.secrets.map((secret) => [`${secret.namespace}/${secret.name}`, cel(secret.type)]));
    const secretKeys = celMap(props.secrets.map((secret) => [`${secret.namespace}/${secret.name}`, celList(secret.keys)]));
    const listed = props.secrets.map((secret) => `${secret.namespace}/${secret.name}`).join(', ');
    const onSecrets = 'request.resource.resource != "secrets" || ';
    const validations: k8s.Validation[] = [
      {
        expression: `${onSecrets}variables.target in ${secretTypes}`,
        messageExpression: cel(`ServiceAccount ${namespace}/${props.serviceAccountName} may write only the Secrets ${listed}, not `) + ' + variables.target',
        reason: 'Forbidden',
      },
      {
        expression: `${onSecrets}!(variables.target in ${secretTypes}) || ${secretTypes}[variables.target] == variables.type`,
        messageExpression: `"Secret " + variables.target + " must be of type " + ${secretTypes}[variables.target] + ", not " + variables.type`,
        reason: 'Forbidden',
      },
      {
        expression: `${onSecrets}!(variables.target in ${secretKeys}) || !has(object.data) || object.data.all(key, key in ${secretKeys}[variables.target])`,
        messageExpression: `"Secret " + variables.target + " may hold only the keys " + ${secretKeys}[variables.target].join(", ")`,
        reason: 'Forbidden',
      },
      {
        expression: `${onSecrets}!has(object.immutable) || object.immutable == false`,
        message: `ServiceAccount ${namespace}/${props.serviceAccountName} may not make a Secret immutable`,
        reason: 'Forbidden',
      },
    ];
    const resources = ['secrets'];
    const grant = props.imagePullSecretGrant;
    if (grant) {
      resources.push('serviceaccounts');
      validations.push(...imagePullSecretValidations(`${namespace}/${props.serviceAccountName}`, grant));
    }

    this.policy = new k8s.KubeValidatingAdmissionPolicy(this, 'Resource', {
      metadata: { name },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources }],
        },
        matchConditions: [{ name: 'from-the-service-account', expression: `request.userInfo.username == ${cel(this.username)}` }],
        variables: [
          { name: 'target', expression: 'request.namespace + "/" + object.metadata.name' },
          { name: 'type', expression: 'has(object.type) ? object.type : "Opaque"' },
        ],
        validations,
      },
    });
    makeClusterScoped(this.policy);
    const binding = new k8s.KubeValidatingAdmissionPolicyBinding(this, 'Binding', {
      metadata: { name },
      spec: { policyName: name, validationActions: ['Deny'] },
    });
    makeClusterScoped(ApiObject.of(binding));
  }
}

/** Validations that let the ServiceAccount `who` change listed ServiceAccounts only by one imagePullSecrets entry. */
function imagePullSecretValidations(who: string, grant: ImagePullSecretGrant): k8s.Validation[] {
  grant.namespaces.forEach((namespace) => validateNamespace('imagePullSecretGrant.namespaces[]', namespace));
  grant.serviceAccounts.forEach((serviceAccount) => validateObjectName('imagePullSecretGrant.serviceAccounts[]', serviceAccount));
  validateObjectName('imagePullSecretGrant.secretName', grant.secretName);
  const targets = grant.namespaces.flatMap((namespace) => grant.serviceAccounts.map((serviceAccount) => `${namespace}/${serviceAccount}`));
  const onServiceAccounts = 'request.resource.resource != "serviceaccounts" || ';
  const unchanged = (field: string) => `(has(object.${field}) == has(oldObject.${field}) && (!has(object.${field}) || object.${field} == oldObject.${field}))`;
  const others = (object: string) => `(has(${object}.imagePullSecrets) ? ${object}.imagePullSecrets : []).filter(s, !has(s.name) || s.name != ${cel(grant.secretName)})`;
  return [
    {
      expression: `${onServiceAccounts}(request.operation == "UPDATE" && variables.target in ${celList(targets)})`,
      messageExpression: cel(`ServiceAccount ${who} may only update the ServiceAccounts ${targets.join(', ')}, not `) + ' + variables.target',
      reason: 'Forbidden',
    },
    {
      expression: `${onServiceAccounts}request.operation != "UPDATE" || (${[
        'secrets', 'automountServiceAccountToken', 'metadata.labels', 'metadata.annotations', 'metadata.ownerReferences', 'metadata.finalizers',
      ].map(unchanged).join(' && ')} && ${others('object')} == ${others('oldObject')})`,
      message: `ServiceAccount ${who} may change a ServiceAccount only by adding ${grant.secretName} to its imagePullSecrets`,
      reason: 'Forbidden',
    },
  ];
}

/** A CEL string literal (JSON's escapes are CEL's). */
function cel(value: string): string {
  return JSON.stringify(value);
}

function celList(values: string[]): string {
  return `[${values.map(cel).join(', ')}]`;
}

function celMap(entries: Array<[string, string]>): string {
  return `{${entries.map(([key, value]) => `${cel(key)}: ${value}`).join(', ')}}`;
}
