import { Size } from 'cdk8s';
import { PolicyMode } from './policy/trusted-image-policy';
import { RegistryStorage } from './registry/registry-storage';
import { TrustedRegistryChartProps } from './trusted-registry-chart';
import { invalid, validateHost, validateNamespace, validateObjectName, validateUnique } from './validation';

/** The environment variables the default app reads, each optional. */
export const APP_SETTINGS = {
  host: 'TRUSTED_REGISTRY_HOST',
  namespace: 'TRUSTED_REGISTRY_NAMESPACE',
  storageSize: 'TRUSTED_REGISTRY_STORAGE_SIZE',
  storageClass: 'TRUSTED_REGISTRY_STORAGE_CLASS',
  ingressClass: 'TRUSTED_REGISTRY_INGRESS_CLASS',
  exemptNamespaces: 'TRUSTED_REGISTRY_EXEMPT_NAMESPACES',
  policyMode: 'TRUSTED_REGISTRY_POLICY_MODE',
} as const;

const SIZE_UNITS: Record<string, (amount: number) => Size> = {
  Mi: Size.mebibytes,
  Gi: Size.gibibytes,
  Ti: Size.tebibytes,
};

function parseSize(setting: string, value: string): Size {
  const match = /^([1-9][0-9]*)(Mi|Gi|Ti)$/.exec(value);
  if (!match) {
    invalid(setting, 'must be a whole number of Mi, Gi or Ti (e.g. "20Gi")', value);
  }
  return SIZE_UNITS[match[2]](Number(match[1]));
}

function parsePolicyMode(setting: string, value: string): PolicyMode {
  const modes = Object.values(PolicyMode) as string[];
  if (!modes.includes(value)) {
    invalid(setting, `must be one of ${modes.map((mode) => `"${mode}"`).join(', ')}`, value);
  }
  return value as PolicyMode;
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
  const read = (setting: string): string | undefined => {
    const value = env[setting]?.trim();
    return value ? value : undefined;
  };
  const host = read(APP_SETTINGS.host);
  const namespace = read(APP_SETTINGS.namespace);
  const storageSize = read(APP_SETTINGS.storageSize);
  const storageClass = read(APP_SETTINGS.storageClass);
  const ingressClass = read(APP_SETTINGS.ingressClass);
  const exemptNamespaces = read(APP_SETTINGS.exemptNamespaces);
  const policyMode = read(APP_SETTINGS.policyMode);

  return {
    host: host && validateHost(APP_SETTINGS.host, host),
    namespace: namespace && validateNamespace(APP_SETTINGS.namespace, namespace),
    exemptNamespaces: exemptNamespaces === undefined ? undefined : parseNamespaceList(APP_SETTINGS.exemptNamespaces, exemptNamespaces),
    policyMode: policyMode && parsePolicyMode(APP_SETTINGS.policyMode, policyMode),
    registry: {
      storage: RegistryStorage.newClaim({
        size: storageSize && parseSize(APP_SETTINGS.storageSize, storageSize),
        storageClassName: storageClass && validateObjectName(APP_SETTINGS.storageClass, storageClass),
      }),
      ingressClassName: ingressClass && validateObjectName(APP_SETTINGS.ingressClass, ingressClass),
    },
  };
}
