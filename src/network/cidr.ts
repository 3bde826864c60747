import { isIP } from 'net';

/**
 * An IPv4 or IPv6 CIDR as Kubernetes' NetworkPolicy `ipBlock.cidr` accepts it. A bare address
 * is refused with the single-address form to use instead.
 */
export function validateCidr(prop: string, value: string): string {
  const rule = `'${prop}' must be CIDRs like "10.0.0.0/16"`;
  const parts = value.split('/');
  const version = value.includes('%') ? 0 : isIP(parts[0]);
  if (parts.length === 1 && version !== 0) {
    throw new Error(`${rule}, got ${JSON.stringify(value)} (for a single address use "${value}/${version === 4 ? 32 : 128}")`);
  }
  const maxPrefix = version === 4 ? 32 : 128;
  if (version === 0 || parts.length !== 2 || !/^(0|[1-9][0-9]{0,2})$/.test(parts[1]) || Number(parts[1]) > maxPrefix) {
    throw new Error(`${rule}, got ${JSON.stringify(value)}`);
  }
  return value;
}
