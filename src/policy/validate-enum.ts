import { invalid } from '../validation';

/**
 * `value` when it is one of the enum's values; throws naming the prop otherwise. TypeScript callers
 * cannot pass anything else, but JavaScript callers (and other jsii languages through casts) can,
 * and an unknown mode must not silently become a default.
 */
export function validateEnum<T extends string>(prop: string, value: T, enumObject: Record<string, T>, enumName: string): T {
  const allowed = Object.values(enumObject);
  if (!allowed.includes(value)) {
    invalid(prop, `must be one of ${allowed.map((v) => `${enumName}.${Object.keys(enumObject).find((k) => enumObject[k] === v)} ("${v}")`).join(', ')}`, value);
  }
  return value;
}
