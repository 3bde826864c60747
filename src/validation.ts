import { Chart, Size, SizeRoundingBehavior } from 'cdk8s';
import { IConstruct } from 'constructs';

/**
 * Synth-time input checks shared by every construct. Each failure names the prop, shows the bad
 * value and says what is allowed, so the message alone is enough to fix the input.
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** One repository path component of the distribution reference grammar (e.g. `team-a`, `my_app.v2`). */
export const REPOSITORY_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';

/** Throws `'<prop>' <rule>, got <value>`. */
export function invalid(prop: string, rule: string, value: unknown): never {
  throw new Error(`'${prop}' ${rule}, got ${formatValue(value)}`);
}

/** A value as JSON, except what JSON cannot show: NaN, ±Infinity and undefined keep their names. */
function formatValue(value: unknown): string {
  if (value === undefined || (typeof value === 'number' && !Number.isFinite(value))) {
    return String(value);
  }
  return JSON.stringify(value);
}

/** True for an RFC 1123 DNS label (lowercase, ≤ 63 characters). */
export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && DNS_LABEL.test(value);
}

/** True for an RFC 1123 DNS subdomain (dot-separated labels, ≤ 253 characters). */
export function isDnsSubdomain(value: string): boolean {
  return value.length > 0 && value.length <= 253 && value.split('.').every(isDnsLabel);
}

/** A Kubernetes namespace name (DNS-1123 label). */
export function validateNamespace(prop: string, value: string): string {
  if (!isDnsLabel(value)) {
    invalid(prop, 'must be a Kubernetes namespace name (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit)', value);
  }
  return value;
}

/** A Kubernetes object name (DNS-1123 subdomain), e.g. a Secret, ServiceAccount or ConfigMap. */
export function validateObjectName(prop: string, value: string): string {
  if (!isDnsSubdomain(value)) {
    invalid(prop, 'must be a Kubernetes object name (lowercase DNS subdomain: letters, digits, "-" and ".", at most 253 characters)', value);
  }
  return value;
}

/**
 * A registry host name as it appears at the start of an image reference: a lowercase DNS name
 * with at least one dot, no scheme, port or path.
 */
export function validateHost(prop: string, value: string): string {
  if (!isDnsSubdomain(value) || !value.includes('.')) {
    invalid(prop, 'must be a lowercase DNS name with at least one dot, without scheme, port or path (e.g. "registry.example.com")', value);
  }
  // No top-level domain is numeric, so this catches IPv4 addresses (IPv6 ones fail above): an
  // Ingress rule cannot have an IP host and a certificate for an IP needs an IP SAN.
  if (/^[0-9]+$/.test(value.slice(value.lastIndexOf('.') + 1))) {
    invalid(prop, 'must be a DNS name, not an IP address (an Ingress host cannot be an IP; its last label must not be numeric)', value);
  }
  return value;
}

/**
 * A name that becomes a Service name (DNS-1035 label: starts with a letter, no dots), at most
 * `maxLength` characters so that the names derived from it stay valid.
 */
export function validateServiceName(prop: string, value: string, maxLength: number): string {
  if (value.length > maxLength || !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(value)) {
    invalid(prop, `must be a DNS-1035 label (it names a Service): lowercase letters, digits and "-", starting with a letter, ending with a letter or digit, at most ${maxLength} characters`, value);
  }
  return value;
}

/** One of `allowed` (the values of a string enum or union); anything else, e.g. from JavaScript, throws. */
export function validateEnum<T extends string>(prop: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) {
    invalid(prop, `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`, value);
  }
  return value;
}

/**
 * `value` when it is a member of `enumObject`; throws naming the prop and every member otherwise.
 * TypeScript callers cannot pass anything else, but JavaScript callers (and other jsii languages
 * through casts) can, and an unknown value must not silently become a default.
 */
export function validateEnumMember<T extends string>(prop: string, value: T, enumObject: Record<string, T>, enumName: string): T {
  const allowed = Object.values(enumObject);
  if (!allowed.includes(value)) {
    invalid(prop, `must be one of ${allowed.map((v) => `${enumName}.${Object.keys(enumObject).find((k) => enumObject[k] === v)} ("${v}")`).join(', ')}`, value);
  }
  return value;
}

/** A repository path such as `team/app`: "/"-separated components of the distribution grammar. */
export function isRepositoryPath(value: string): boolean {
  return new RegExp(`^${REPOSITORY_COMPONENT}(?:/${REPOSITORY_COMPONENT})*$`).test(value);
}

/**
 * The namespace of the Chart that holds `construct`; throws when the Chart has none, naming the
 * construct and `why` it needs one.
 */
export function requireChartNamespace(construct: IConstruct, why: string): string {
  const namespace = Chart.of(construct).namespace;
  if (!namespace) {
    invalid('namespace', `must be set on the Chart that contains a ${construct.constructor.name} (${why})`, namespace);
  }
  return namespace;
}

/** An image reference pinned by digest, as every image the constructs deploy must be. */
export function validatePinnedImage(prop: string, image: string): string {
  if (!/@sha256:[a-f0-9]{64}$/.test(image)) {
    invalid(prop, 'must be pinned by digest ("<name>@sha256:<64 lowercase hex>" or "<name>:<tag>@sha256:<64 lowercase hex>")', image);
  }
  return image;
}

/** A positive integer within [min, max]. */
export function validateInteger(prop: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    invalid(prop, `must be an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** Throws when a list holds the same value twice. */
export function validateUnique(prop: string, values: readonly string[]): readonly string[] {
  const seen = new Set<string>();
  for (const value of values) {
    if (seen.has(value)) {
      invalid(prop, 'must not list the same value twice', value);
    }
    seen.add(value);
  }
  return values;
}

/** The largest claim the registry asks for: 1 PiB. */
const MAX_CLAIM_MEBIBYTES = 1024 ** 3;

/** A claim size: a whole number of MiB from 1 Mi to 1 Pi (NaN, Infinity and fractions of Mi refused). */
export function validateClaimSize(prop: string, size: Size): Size {
  const mebibytes = size.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
  if (!Number.isInteger(mebibytes) || mebibytes < 1 || mebibytes > MAX_CLAIM_MEBIBYTES) {
    invalid(prop, 'must be a whole number of MiB from 1Mi to 1Pi (e.g. Size.gibibytes(20) or Size.mebibytes(1536))', size.asString());
  }
  return size;
}
