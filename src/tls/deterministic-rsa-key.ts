import { checkPrimeSync, createPrivateKey, hkdfSync, KeyObject } from 'crypto';

const PUBLIC_EXPONENT = 65537n;

function toBigInt(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function base64url(value: bigint): string {
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex').toString('base64url');
}

/** `a⁻¹ mod m` by the extended Euclidean algorithm (a and m coprime). */
function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const quotient = oldR / r;
    [oldR, r] = [r, oldR - quotient * r];
    [oldS, s] = [s, oldS - quotient * s];
  }
  return ((oldS % m) + m) % m;
}

function gcd(a: bigint, b: bigint): bigint {
  return b === 0n ? a : gcd(b, a % b);
}

/**
 * A prime of `bits` bits (the top two set, so two of them multiply to exactly `2 * bits`)
 * with `p - 1` coprime to the public exponent, found by testing candidates drawn from HKDF
 * output in order.
 */
function derivePrime(seed: string, label: string, bits: number): bigint {
  for (let counter = 0; ; counter++) {
    const candidate = new Uint8Array(hkdfSync('sha512', seed, 'cdk8s-trusted-registry rsa prime', `${label} ${counter}`, bits / 8));
    candidate[0] |= 0xc0;
    candidate[candidate.length - 1] |= 0x01;
    const prime = toBigInt(candidate);
    if (checkPrimeSync(prime) && gcd(prime - 1n, PUBLIC_EXPONENT) === 1n) {
      return prime;
    }
  }
}

/**
 * An RSA private key derived from `seed` alone: the same seed always gives the same key, so a
 * certificate signed with it (RSA PKCS #1 v1.5 signatures are deterministic too) is identical on
 * every synth. Anyone who knows the seed knows the key: this is for proofs of concept only.
 */
export function deterministicRsaKey(seed: string, modulusBits: 2048 | 3072 | 4096 = 2048): KeyObject {
  const p = derivePrime(seed, 'p', modulusBits / 2);
  const q = derivePrime(seed, 'q', modulusBits / 2);
  const n = p * q;
  const d = modInverse(PUBLIC_EXPONENT, (p - 1n) * (q - 1n));
  return createPrivateKey({
    format: 'jwk',
    key: {
      kty: 'RSA',
      n: base64url(n),
      e: base64url(PUBLIC_EXPONENT),
      d: base64url(d),
      p: base64url(p),
      q: base64url(q),
      dp: base64url(d % (p - 1n)),
      dq: base64url(d % (q - 1n)),
      qi: base64url(modInverse(q, p)),
    },
  });
}
