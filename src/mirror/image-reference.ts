import { REPOSITORY_COMPONENT } from '../validation';

/**
 * An image reference split the way container runtimes read it (the distribution reference
 * grammar): `nginx:1.27` is `docker.io/library/nginx` tag `1.27`.
 */
export interface ParsedImageReference {
  /** Registry host (with port, if any), e.g. `docker.io`, `registry.k8s.io`, `127.0.0.1:5000`. */
  readonly domain: string;
  /** Repository path, e.g. `library/nginx`. */
  readonly path: string;
  readonly tag?: string;
  /** `sha256:<64 hex>`. */
  readonly digest?: string;
}

const DOCKER_HUB = 'docker.io';
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DOMAIN = /^(?:localhost|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]+)?$/;
const PATH = new RegExp(`^${REPOSITORY_COMPONENT}(?:/${REPOSITORY_COMPONENT})*$`);

/** Parses and normalizes an image reference; throws naming the reference when it is not one. */
export function parseImageReference(reference: string): ParsedImageReference {
  const fail = (why: string): never => {
    throw new Error(`"${reference}" is not an image reference: ${why}`);
  };
  let rest = reference;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) fail('the digest must be sha256:<64 lowercase hex>');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail('invalid tag');
  }
  const slash = rest.indexOf('/');
  const first = slash === -1 ? '' : rest.slice(0, slash);
  const isDomain = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase());
  let domain = isDomain ? first : DOCKER_HUB;
  let path = isDomain ? rest.slice(slash + 1) : rest;
  if (domain === 'index.docker.io') domain = DOCKER_HUB;
  if (domain === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (!DOMAIN.test(domain)) fail('invalid registry host');
  if (!PATH.test(path)) fail('the repository must be lowercase "/"-separated components');
  return { domain, path, tag, digest };
}

/** `domain/path[:tag][@digest]`. */
export function formatImageReference(reference: ParsedImageReference): string {
  return `${reference.domain}/${reference.path}${reference.tag ? `:${reference.tag}` : ''}${reference.digest ? `@${reference.digest}` : ''}`;
}
