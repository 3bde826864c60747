import { join } from 'path';
import { HtpasswdKeys, RegistryContainerNames } from '../../src';
import { HTPASSWD_BCRYPT_COST } from '../../src/access/htpasswd';
import { describeWithBinaries } from '../util/binaries';
import { readOciBlobs, ociManifestDigest, writeOciImage } from './oci-image';
import { httpRequest } from './registry-client';
import { findManifest, registryContainer } from './synthesized-registry';
import { useRegistryFixture } from './use-registry-fixture';

/** `config` with the keys at `paths` (dotted) replaced by a marker, for comparing the rest. */
function masked(config: Record<string, any>, paths: string[]): Record<string, any> {
  const copy = structuredClone(config);
  for (const path of paths) {
    const keys = path.split('.');
    const parent = keys.slice(0, -1).reduce((node, key) => node[key], copy);
    expect(parent).toHaveProperty([keys[keys.length - 1]]);
    parent[keys[keys.length - 1]] = '<masked>';
  }
  return copy;
}

describeWithBinaries('PrivateRegistry served by the real registry binary with its synthesized configuration', ['docker-registry', 'skopeo', 'openssl'], () => {
  const fixture = useRegistryFixture();

  test.each([RegistryContainerNames.READER, RegistryContainerNames.WRITER])('the %s runs its config.yml exactly as synthesized, except for file paths and the listen address', (container) => {
    // GIVEN the config.yml the container mounts from the ConfigMap and the one the process runs
    const endpoint = container === RegistryContainerNames.READER ? fixture.reader : fixture.writer;
    const { synthesizedConfig, effectiveConfig, addr, containerRoot } = endpoint.materialized;
    // THEN the only differences are the four container paths and http.addr
    const rewritten = ['storage.filesystem.rootdirectory', 'http.tls.certificate', 'http.tls.key', 'auth.htpasswd.path', 'http.addr'];
    expect(masked(effectiveConfig, rewritten)).toEqual(masked(synthesizedConfig, rewritten));
    expect(effectiveConfig.http.addr).toBe(addr);
    expect(addr).toMatch(/^127\.0\.0\.1:\d+$/);
    const value = (config: Record<string, any>, path: string): string => path.split('.').reduce((node: any, key) => node[key], config);
    for (const path of rewritten.slice(1, 4)) {
      // Re-rooted under the container's directory, not replaced by something else.
      expect(value(effectiveConfig, path)).toBe(join(containerRoot, value(synthesizedConfig, path)));
    }
    // AND the storage is the pod's shared claim, the same directory for both processes
    expect(value(effectiveConfig, 'storage.filesystem.rootdirectory')).toBe(fixture.reader.materialized.storageDir);
    expect(fixture.reader.materialized.storageDir).toBe(fixture.writer.materialized.storageDir);
  });

  test('the htpasswd Secret holds one bcrypt hash of cost HTPASSWD_BCRYPT_COST per file: the push user for the writer, the pull user for the reader', () => {
    // GIVEN the synthesized htpasswd Secret
    const data = findManifest(fixture.manifests, 'Secret', 'registry-htpasswd').stringData;
    expect(Object.keys(data).sort()).toEqual([HtpasswdKeys.PULL, HtpasswdKeys.PUSH]);
    for (const [key, user] of [[HtpasswdKeys.PUSH, fixture.credentials], [HtpasswdKeys.PULL, fixture.pullCredentials]] as const) {
      // THEN each file's one line is its user and a $2y$ hash whose cost field is the constant
      const match = /^([^:]+):\$2y\$(\d{2})\$[./A-Za-z0-9]{53}\n$/.exec(data[key]);
      expect(match).not.toBeNull();
      expect(match![1]).toBe(user.username);
      expect(Number(match![2])).toBe(HTPASSWD_BCRYPT_COST);
    }
  });

  test('an anonymous request is challenged with Basic auth in the configured realm, with the configured headers', async () => {
    // WHEN /v2/ is requested without credentials
    const response = await httpRequest(`${fixture.process.url}/v2/`, { caPem: fixture.pki!.caPem });
    // THEN 401 with a Basic challenge naming the synthesized realm
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe(`Basic realm="${fixture.materialized.synthesizedConfig.auth.htpasswd.realm}"`);
    // AND the synthesized extra headers are served
    expect(response.headers['x-content-type-options']).toBe(fixture.materialized.synthesizedConfig.http.headers['X-Content-Type-Options'][0]);
  });

  test('the synthesized bcrypt hash accepts the right password and only it', async () => {
    const url = `${fixture.process.url}/v2/`;
    const caPem = fixture.pki!.caPem;
    const { username, password } = fixture.credentials;
    // WHEN /v2/ is requested with a wrong password, a wrong user, then the right credentials
    const wrongPassword = await httpRequest(url, { caPem, credentials: { username, password: password.slice(1) + 'x' } });
    const wrongUser = await httpRequest(url, { caPem, credentials: { username: `${username}x`, password } });
    const right = await httpRequest(url, { caPem, credentials: fixture.credentials });
    // THEN only the right credentials get in
    expect(wrongPassword.status).toBe(401);
    expect(wrongUser.status).toBe(401);
    expect(right.status).toBe(200);
  });

  test.each([RegistryContainerNames.READER, RegistryContainerNames.WRITER])('the readiness and liveness probes of the %s succeed with auth on', async (name) => {
    // GIVEN the probes exactly as synthesized
    const endpoint = name === RegistryContainerNames.READER ? fixture.reader : fixture.writer;
    const container = registryContainer(fixture.manifests, name);
    const probes = [container.readinessProbe, container.livenessProbe];
    for (const probe of probes) {
      // The probe targets the port the configuration listens on (only the address is rewritten here).
      expect(endpoint.materialized.synthesizedConfig.http.addr).toBe(`:${probe.httpGet.port}`);
      expect(container.ports.map((p: any) => p.containerPort)).toEqual([probe.httpGet.port]);
      // WHEN requested as kubelet does: scheme and path from the probe, no credentials, and no
      // certificate verification (kubelet never verifies HTTPS probe certificates)
      const response = await httpRequest(`${probe.httpGet.scheme.toLowerCase()}://${endpoint.materialized.addr}${probe.httpGet.path}`);
      // THEN kubelet counts it as success
      expect(response.status).toBeGreaterThanOrEqual(200);
      expect(response.status).toBeLessThan(400);
    }
  });

  test('an image pushed to the writer is listed and pulls back from the read-only reader by digest byte for byte; deletes are off by default', async () => {
    // GIVEN an image of random bytes in an OCI layout
    const repository = 'e2e/app';
    const image = writeOciImage(join(fixture.scratchDir, 'app'), { tag: 'v1', layerSizes: [64 * 1024, 1024 * 1024] });

    // WHEN skopeo pushes it with the synthesized user
    const pushedDigest = await fixture.skopeo.push(image.dir, image.tag, repository);

    // THEN the digest skopeo reports, the one the registry reports and the local one agree
    expect(pushedDigest).toBe(image.manifestDigest);
    expect((await fixture.skopeo.inspect(repository, image.tag)).Digest).toBe(image.manifestDigest);
    // AND the catalog and the tag list show it
    expect(await fixture.client.catalog()).toContain(repository);
    expect(await fixture.client.tags(repository)).toEqual([image.tag]);

    // WHEN the pull identity pulls it back by digest through the reader
    const pulledDir = join(fixture.scratchDir, 'pulled');
    await fixture.reader.skopeo.pullByDigest(repository, pushedDigest, pulledDir, 'pulled');
    // THEN the pulled layout holds exactly the same blobs, byte for byte, under the same manifest
    expect(ociManifestDigest(pulledDir, 'pulled')).toBe(image.manifestDigest);
    const pulled = readOciBlobs(pulledDir);
    expect([...pulled.keys()].sort()).toEqual([...image.blobs.keys()].sort());
    for (const [digest, bytes] of image.blobs) {
      expect(pulled.get(digest)!.equals(bytes)).toBe(true);
    }

    // WHEN the push identity tries to delete the manifest by digest (deletes are off by default)
    const deletion = await fixture.client.request(`/v2/${repository}/manifests/${pushedDigest}`, { method: 'DELETE' });
    // THEN the writer refuses it, and the manifest is still served by digest and by tag
    expect(deletion.status).toBe(405);
    expect(JSON.parse(deletion.body.toString()).errors[0].code).toBe('UNSUPPORTED');
    expect((await fixture.reader.client.getManifest(repository, pushedDigest)).status).toBe(200);
    expect((await fixture.reader.client.getManifest(repository, image.tag)).status).toBe(200);
  });
});
