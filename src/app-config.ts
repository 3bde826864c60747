import { Size } from 'cdk8s';
import { PolicyMode } from './policy/trusted-image-policy';
import { HtpasswdSource } from './registry/htpasswd-source';
import { RegistryStorage } from './registry/registry-storage';
import { TrustedRegistryChartProps, validateChartNamespace } from './trusted-registry-chart';
import { invalid, validateClaimSize, validateHost, validateNamespace, validateObjectName, validateUnique } from './validation';

/** The environment variables the default app reads, each optional. */
export const APP_SETTINGS = {
  host: 'TRUSTED_REGISTRY_HOST',
  namespace: 'TRUSTED_REGISTRY_NAMESPACE',
  storageSize: 'TRUSTED_REGISTRY_STORAGE_SIZE',
  storageClass: 'TRUSTED_REGISTRY_STORAGE_CLASS',
  ingressClass: 'TRUSTED_REGISTRY_INGRESS_CLASS',
  exemptNamespaces: 'TRUSTED_REGISTRY_EXEMPT_NAMESPACES',
  externallyManagedNamespaces: 'TRUSTED_REGISTRY_EXTERNALLY_MANAGED_NAMESPACES',
  policyMode: 'TRUSTED_REGISTRY_POLICY_MODE',
  credentials: 'TRUSTED_REGISTRY_CREDENTIALS',
  pullNamespaces: 'TRUSTED_REGISTRY_PULL_NAMESPACES',
} as const;

const SIZE_UNITS: Record<string, (amount: number) => Size> = {
  Mi: Size.mebibytes,
  Gi: Size.gibibytes,
  Ti: Size.tebibytes,
};

function parseSize(setting: string, value: string): Size {
  const match = /^([1-9][0-9]{0,9})(Mi|Gi|Ti)$/.exec(value);
  if (!match) {
    invalid(setting, 'must be a whole number of Mi, Gi or Ti (e.g. "20Gi")', value);
  }
  const size = SIZE_UNITS[match[2]](Number(match[1]));
  validateClaimSize(setting, size);
  return size;
}

const POLICY_MODES: ReadonlyMap<string, PolicyMode> = new Map([
  ['enforce', PolicyMode.ENFORCE],
  ['audit', PolicyMode.AUDIT],
]);

function parsePolicyMode(setting: string, value: string): PolicyMode {
  const mode = POLICY_MODES.get(value);
  if (!mode) {
    invalid(setting, `must be one of ${[...POLICY_MODES.keys()].map((name) => `"${name}"`).join(', ')}`, value);
  }
  return mode;
}

/** `existing`: the htpasswd Secret is created by hand; `generated`: a Job creates it in the cluster. */
const CREDENTIALS: ReadonlyMap<string, () => HtpasswdSource | undefined> = new Map<string, () => HtpasswdSource | undefined>([
  ['existing', () => undefined],
  ['generated', () => HtpasswdSource.generated()],
]);

function parseCredentials(setting: string, value: string): HtpasswdSource | undefined {
  const source = CREDENTIALS.get(value);
  if (!source) {
    invalid(setting, `must be one of ${[...CREDENTIALS.keys()].map((name) => `"${name}"`).join(', ')}`, value);
  }
  return source();
}

function parseNamespaceList(setting: string, value: string): string[] {
  const namespaces = value.split(',').map((namespace) => namespace.trim()).filter((namespace) => namespace !== '');
  namespaces.forEach((namespace) => validateNamespace(setting, namespace));
  validateUnique(setting, namespaces);
  return namespaces;
}

/**
 * The default app's chart props from environment variables (see `APP_SETTINGS`). Unset or empty
 * variables keep the chart's defaults; an invalid one throws an error naming the variable.
 */
export function chartPropsFromEnv(env: Record<string, string | undefined>): TrustedRegistryChartProps {
  // Each setting: unset or blank keeps the chart's default, anything else is parsed or refused.
  const setting = <T>(name: string, parse: (name: string, value: string) => T): T | undefined => {
    const value = env[name]?.trim();
    return value ? parse(name, value) : undefined;
  };
  return {
    host: setting(APP_SETTINGS.host, validateHost),
    namespace: setting(APP_SETTINGS.namespace, validateChartNamespace),
    exemptNamespaces: setting(APP_SETTINGS.exemptNamespaces, parseNamespaceList),
    externallyManagedNamespaces: setting(APP_SETTINGS.externallyManagedNamespaces, parseNamespaceList),
    policyMode: setting(APP_SETTINGS.policyMode, parsePolicyMode),
    pullNamespaces: setting(APP_SETTINGS.pullNamespaces, parseNamespaceList),
    registry: {
      htpasswd: setting(APP_SETTINGS.credentials, parseCredentials),
      storage: RegistryStorage.newClaim({
        size: setting(APP_SETTINGS.storageSize, parseSize),
        storageClassName: setting(APP_SETTINGS.storageClass, validateObjectName),
      }),
      ingressClassName: setting(APP_SETTINGS.ingressClass, validateObjectName),
    },
  };
}
