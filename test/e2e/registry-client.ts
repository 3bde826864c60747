import { createHash } from 'crypto';
import * as http from 'http';
import * as https from 'https';

/** A user name and password for HTTP Basic authentication. */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** Options of `httpRequest()`. */
export interface HttpRequestOptions {
  /** @default 'GET' */
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly credentials?: Credentials;
  /** Request body. @default - none */
  readonly body?: Buffer | string;
  /** CA to verify an HTTPS server against. Without it, the certificate is not verified (as kubelet probes do). */
  readonly caPem?: string;
  /** Name sent as SNI and checked against the certificate. @default - the URL's host */
  readonly servername?: string;
  /** Receives the certificate the server presented (HTTPS only). */
  readonly onPeerCertificate?: (certificate: import('tls').PeerCertificate) => void;
  /** @default 10000 */
  readonly timeoutMs?: number;
}

/** Status, headers and the whole body of a response. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * One HTTP(S) request on a fresh connection (no keep-alive agent, so nothing outlives a test),
 * aborted after `timeoutMs`.
 */
export function httpRequest(url: string, options: HttpRequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const headers: Record<string, string> = { ...options.headers };
  if (options.credentials) {
    headers.Authorization = `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString('base64')}`;
  }
  const requestOptions: https.RequestOptions = {
    method: options.method ?? 'GET',
    headers,
    agent: false,
    timeout: options.timeoutMs ?? 10_000,
  };
  if (target.protocol === 'https:') {
    Object.assign(requestOptions, options.caPem
      ? { ca: options.caPem, servername: options.servername }
      : { rejectUnauthorized: false });
  }
  return new Promise((resolve, reject) => {
    const request = (target.protocol === 'https:' ? https : http).request(target, requestOptions, (response) => {
      if (options.onPeerCertificate && 'getPeerCertificate' in response.socket) {
        options.onPeerCertificate((response.socket as import('tls').TLSSocket).getPeerCertificate());
      }
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`${options.method ?? 'GET'} ${url} timed out after ${requestOptions.timeout} ms`)));
    request.on('error', reject);
    request.end(options.body);
  });
}

/** Accept header for the manifest types the suite pushes. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** `sha256:<hex>` of `bytes`. */
export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A manifest the registry serves whose bytes and every blob match their digests. */
export interface VerifiedManifest {
  readonly repository: string;
  readonly reference: string;
  readonly digest: string;
}

/** The distribution HTTP API v2 of one registry, as one user. */
export class RegistryClient {
  constructor(
    /** `https://127.0.0.1:<port>` or `http://...`. */
    public readonly baseUrl: string,
    private readonly credentials?: Credentials,
    private readonly caPem?: string,
  ) {}

  /** A request to `path` (starting with `/`) with this client's credentials and CA. */
  public request(path: string, options: HttpRequestOptions = {}): Promise<HttpResponse> {
    return httpRequest(`${this.baseUrl}${path}`, { credentials: this.credentials, caPem: this.caPem, ...options });
  }

  /** GET a manifest by tag or digest. */
  public getManifest(repository: string, reference: string): Promise<HttpResponse> {
    return this.request(`/v2/${repository}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT } });
  }

  /** Every repository in `/v2/_catalog`. */
  public async catalog(): Promise<string[]> {
    return (await this.json('/v2/_catalog')).repositories ?? [];
  }

  /** Every tag in `/v2/<repository>/tags/list` (none when the repository is unknown). */
  public async tags(repository: string): Promise<string[]> {
    const response = await this.request(`/v2/${repository}/tags/list`);
    if (response.status === 404) {
      return [];
    }
    return (this.parse(response, `/v2/${repository}/tags/list`).tags as string[] | null) ?? [];
  }

  /**
   * Fetches the manifest at `reference` and checks that it is whole: its bytes hash to the
   * `Docker-Content-Digest` the registry announces (and to `reference` when that is a digest),
   * and every blob it references (config and layers) downloads with bytes that hash to its digest
   * and with its declared size. Resolves undefined when the registry has no such manifest (404),
   * rejects on anything else.
   */
  public async verifyManifest(repository: string, reference: string): Promise<VerifiedManifest | undefined> {
    const response = await this.getManifest(repository, reference);
    if (response.status === 404) {
      return undefined;
    }
    if (response.status !== 200) {
      throw new Error(`GET manifest ${repository}:${reference} answered ${response.status}: ${response.body.toString()}`);
    }
    const digest = sha256Digest(response.body);
    if (response.headers['docker-content-digest'] !== digest || (reference.startsWith('sha256:') && reference !== digest)) {
      throw new Error(`manifest ${repository}:${reference} hashes to ${digest}, announced ${response.headers['docker-content-digest']}`);
    }
    const manifest = JSON.parse(response.body.toString());
    for (const descriptor of [manifest.config, ...manifest.layers] as Array<{ digest: string; size: number }>) {
      const blob = await this.request(`/v2/${repository}/blobs/${descriptor.digest}`, { timeoutMs: 30_000 });
      if (blob.status !== 200 || sha256Digest(blob.body) !== descriptor.digest || blob.body.length !== descriptor.size) {
        throw new Error(`blob ${descriptor.digest} of ${repository}@${digest} is corrupt or missing (status ${blob.status}, ${blob.body.length} bytes)`);
      }
    }
    return { repository, reference, digest };
  }

  /**
   * Verifies (see `verifyManifest`) every tagged manifest of every repository in the catalog; a
   * listed tag whose manifest is missing counts as corruption too.
   */
  public async verifyEverything(): Promise<VerifiedManifest[]> {
    const verified: VerifiedManifest[] = [];
    for (const repository of await this.catalog()) {
      for (const tag of await this.tags(repository)) {
        const manifest = await this.verifyManifest(repository, tag);
        if (!manifest) {
          throw new Error(`tag ${repository}:${tag} is listed but its manifest is missing`);
        }
        verified.push(manifest);
      }
    }
    return verified;
  }

  private async json(path: string): Promise<any> {
    return this.parse(await this.request(path), path);
  }

  private parse(response: HttpResponse, path: string): any {
    if (response.status !== 200) {
      throw new Error(`GET ${path} answered ${response.status}: ${response.body.toString()}`);
    }
    return JSON.parse(response.body.toString());
  }
}
