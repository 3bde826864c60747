import { readdirSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { OCI_MANIFEST_MEDIA_TYPE, readOciBlobs, ociManifestDigest, OciImage, writeOciImage } from './oci-image';
import { HttpResponse, RegistryClient } from './registry-client';
import { freeLoopbackPort, RegistryProcess } from './registry-process';
import { RegistryEndpoint, RegistryFixture } from './registry-fixture';
import { containerBehindService, findManifest } from './synthesized-registry';
import { useRegistryFixture } from './use-registry-fixture';
import { RegistryContainerNames } from '../../src';
import { describeWithBinaries } from '../util/binaries';

// Issue 10: only the push identity (CI) can write. Every claim is checked against the real
// registry binary running the synthesized configuration of both containers of the pod, on one
// storage, as the chart wires them (the Service nodes and tenants pull through leads to the
// reader; the push Service and the Ingress lead to the writer).

const KIB = 1024;

/** The image's manifest, config and layer digests. */
function parts(image: OciImage): { manifest: Buffer; layers: string[]; config: string } {
  const manifest = image.blobs.get(image.manifestDigest)!;
  const parsed = JSON.parse(manifest.toString());
  return { manifest, config: parsed.config.digest, layers: parsed.layers.map((l: { digest: string }) => l.digest) };
}

/** Pulls by digest through `endpoint` and checks every blob byte for byte. */
async function expectPullsBack(endpoint: RegistryEndpoint, fixture: RegistryFixture, image: OciImage, repository: string, name: string): Promise<void> {
  const dir = join(fixture.scratchDir, name);
  await endpoint.skopeo.pullByDigest(repository, image.manifestDigest, dir, 'pulled');
  expect(ociManifestDigest(dir, 'pulled')).toBe(image.manifestDigest);
  const pulled = readOciBlobs(dir);
  expect([...pulled.keys()].sort()).toEqual([...image.blobs.keys()].sort());
  for (const [digest, bytes] of image.blobs) {
    expect(pulled.get(digest)!.equals(bytes)).toBe(true);
  }
}

/** Every path under `dir` with its size and modification time: what a write would change. */
function storageTree(dir: string): string[] {
  const entries: string[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      const stat = statSync(full);
      entries.push(`${full.slice(dir.length)} ${stat.isDirectory() ? 'dir' : stat.size} ${stat.mtimeMs}`);
      if (stat.isDirectory()) {
        walk(full);
      }
    }
  };
  walk(dir);
  return entries;
}

/** The digest a tag resolves to through `client`, or the status when it does not resolve. */
async function resolveTag(client: RegistryClient, repository: string, tag: string): Promise<string | number> {
  const response = await client.getManifest(repository, tag);
  return response.status === 200 ? String(response.headers['docker-content-digest']) : response.status;
}

/**
 * What a refusal looks like on each path: the writer does not know the pull user (401
 * UNAUTHORIZED); the read-only reader does not even route write methods (405, "Method not
 * allowed"), and for an upload it never started does not recognize its state (404
 * BLOB_UPLOAD_INVALID: each process signs upload state with its own secret).
 */
function expectRefused(response: HttpResponse, endpoint: RegistryEndpoint, what: string, reader: 'method' | 'upload' = 'method'): void {
  const writer = endpoint.container === RegistryContainerNames.WRITER;
  const [expected, marker] = writer ? [401, '"UNAUTHORIZED"'] : reader === 'method' ? [405, 'Method not allowed'] : [404, '"BLOB_UPLOAD_INVALID"'];
  if (response.status !== expected || !response.body.toString().includes(marker)) {
    throw new Error(`${what} on the ${endpoint.container}: expected ${expected}, got ${response.status} ${response.body.toString()}`);
  }
}

describeWithBinaries('only the push identity can write: the synthesized reader and writer on one storage', ['docker-registry', 'skopeo', 'openssl'], () => {
  const fixture = useRegistryFixture();
  const repository = 'team/app';
  let v1: OciImage;
  let other: OciImage;

  beforeAll(async () => {
    // GIVEN CI has pushed team/app:v1 through the writer
    v1 = writeOciImage(join(fixture.scratchDir, 'v1'), { tag: 'v1', layerSizes: [64 * KIB, 256 * KIB] });
    other = writeOciImage(join(fixture.scratchDir, 'other'), { tag: 'v1', layerSizes: [32 * KIB] });
    expect(await fixture.skopeo.push(v1.dir, v1.tag, repository)).toBe(v1.manifestDigest);
  }, 60_000);

  const endpoints = (): RegistryEndpoint[] => [fixture.reader, fixture.writer];

  test('the Service nodes and tenants pull through leads to the read-only reader; the Ingress and the push Service lead to the writer', () => {
    const ingress = findManifest(fixture.manifests, 'Ingress');
    const ingressService = ingress.spec.rules[0].http.paths[0].backend.service.name;
    expect(ingressService).toBe('registry-push');
    expect(containerBehindService(fixture.manifests, 'registry').name).toBe(RegistryContainerNames.READER);
    expect(containerBehindService(fixture.manifests, ingressService).name).toBe(RegistryContainerNames.WRITER);
    // The reader runs read-only with deletes off: what the refusals below rely on.
    const readerConfig = fixture.reader.materialized.synthesizedConfig;
    expect(readerConfig.storage.maintenance.readonly).toEqual({ enabled: true });
    expect(readerConfig.storage.delete).toEqual({ enabled: false });
  });

  test('the pull identity pulls by digest and by tag through the reader', async () => {
    await expectPullsBack(fixture.reader, fixture, v1, repository, 'pull-identity');
    expect(await resolveTag(fixture.reader.client, repository, 'v1')).toBe(v1.manifestDigest);
    expect((await fixture.reader.skopeo.inspect(repository, 'v1')).Digest).toBe(v1.manifestDigest);
  });

  test('the push identity pushes and pulls through the writer, and is unknown to the reader', async () => {
    await expectPullsBack(fixture.writer, fixture, v1, repository, 'push-identity');
    const onReader = await fixture.reader.clientAs(fixture.credentials).getManifest(repository, v1.manifestDigest);
    expect(onReader.status).toBe(401);
  });

  describe.each(['reader', 'writer'] as const)('the pull identity on the %s', (path) => {
    const endpoint = () => fixture[path];
    const asPull = () => endpoint().clientAs(fixture.pullCredentials);

    test('cannot push with skopeo, to a new repository or over an existing tag', async () => {
      const skopeo = endpoint().skopeoAs(fixture.pullCredentials);
      const toNew = await skopeo.tryPush(other.dir, other.tag, `attacker-${path}/tool`);
      const overExisting = await skopeo.tryPush(other.dir, other.tag, repository);
      expect(toNew.result.code).not.toBe(0);
      expect(overExisting.result.code).not.toBe(0);
      // Nothing changed: the new repository does not exist, the tag still names v1.
      expect(await fixture.client.catalog()).not.toContain(`attacker-${path}/tool`);
      expect(await resolveTag(fixture.client, repository, 'v1')).toBe(v1.manifestDigest);
    });

    test('cannot start, complete or continue a blob upload, or mount a blob across repositories', async () => {
      const layer = parts(v1).layers[0];
      const blob = v1.blobs.get(layer)!;
      expectRefused(await asPull().request(`/v2/${repository}/blobs/uploads/`, { method: 'POST' }), endpoint(), 'POST upload');
      expectRefused(await asPull().request(`/v2/attacker/x/blobs/uploads/?digest=${layer}`, {
        method: 'POST', body: blob, headers: { 'Content-Type': 'application/octet-stream' },
      }), endpoint(), 'monolithic upload');
      expectRefused(await asPull().request(`/v2/attacker/x/blobs/uploads/?mount=${layer}&from=${repository}`, { method: 'POST' }), endpoint(), 'cross-repository mount');
      // An upload the push identity started on the writer cannot be continued or completed by it.
      const started = await fixture.client.request(`/v2/${repository}/blobs/uploads/`, { method: 'POST' });
      expect(started.status).toBe(202);
      const location = new URL(String(started.headers.location), 'https://placeholder').pathname + new URL(String(started.headers.location), 'https://placeholder').search;
      expectRefused(await asPull().request(location, { method: 'PATCH', body: blob, headers: { 'Content-Type': 'application/octet-stream' } }), endpoint(), 'PATCH upload', 'upload');
      const separator = location.includes('?') ? '&' : '?';
      expectRefused(await asPull().request(`${location}${separator}digest=${layer}`, { method: 'PUT', body: blob }), endpoint(), 'PUT upload', 'upload');
      // The push identity's upload itself is intact: it can still finish it on the writer.
      const finished = await fixture.client.request(`${location}${separator}digest=${layer}`, { method: 'PUT', body: blob, headers: { 'Content-Type': 'application/octet-stream' } });
      expect(finished.status).toBe(201);
      // Nothing landed in the attacker's repository.
      expect((await fixture.client.request(`/v2/attacker/x/blobs/${layer}`, { method: 'HEAD' })).status).toBe(404);
    });

    test('cannot put a manifest (new repository, new tag or over an existing tag)', async () => {
      const manifest = parts(v1).manifest;
      const put = (reference: string, repo = repository) => asPull().request(`/v2/${repo}/manifests/${reference}`, {
        method: 'PUT', body: manifest, headers: { 'Content-Type': OCI_MANIFEST_MEDIA_TYPE },
      });
      expectRefused(await put('v1'), endpoint(), 'PUT manifest over a tag');
      expectRefused(await put('evil'), endpoint(), 'PUT manifest with a new tag');
      expectRefused(await put(v1.manifestDigest, 'attacker/copy'), endpoint(), 'PUT manifest into a new repository');
      expect(await fixture.client.tags(repository)).toEqual(['v1']);
      expect(await fixture.client.catalog()).not.toContain('attacker/copy');
    });

    test('cannot delete a manifest or a blob', async () => {
      const [layer] = parts(v1).layers;
      expectRefused(await asPull().request(`/v2/${repository}/manifests/${v1.manifestDigest}`, { method: 'DELETE' }), endpoint(), 'DELETE manifest');
      expectRefused(await asPull().request(`/v2/${repository}/blobs/${layer}`, { method: 'DELETE' }), endpoint(), 'DELETE blob');
      expect((await fixture.reader.client.getManifest(repository, v1.manifestDigest)).status).toBe(200);
      expect((await fixture.reader.client.request(`/v2/${repository}/blobs/${layer}`)).status).toBe(200);
    });
  });

  test('the reader writes nothing to the shared storage, whatever it is asked (the pod mounts it read-only there)', async () => {
    // GIVEN the storage tree as it is now
    const before = storageTree(fixture.reader.materialized.storageDir);
    // WHEN the reader serves pulls and is asked, as the pull identity and anonymously, for every write
    const [layer] = parts(v1).layers;
    await expectPullsBack(fixture.reader, fixture, v1, repository, 'untouched');
    for (const client of [fixture.reader.client, fixture.reader.clientAs(undefined)]) {
      await client.request(`/v2/${repository}/blobs/uploads/`, { method: 'POST' });
      await client.request(`/v2/other/blobs/uploads/?mount=${layer}&from=${repository}`, { method: 'POST' });
      await client.request(`/v2/${repository}/manifests/v9`, { method: 'PUT', body: parts(v1).manifest, headers: { 'Content-Type': OCI_MANIFEST_MEDIA_TYPE } });
      await client.request(`/v2/${repository}/manifests/${v1.manifestDigest}`, { method: 'DELETE' });
      await client.request(`/v2/${repository}/blobs/${layer}`, { method: 'DELETE' });
    }
    // THEN not a file or directory was added, removed, resized or rewritten
    expect(storageTree(fixture.reader.materialized.storageDir)).toEqual(before);
  });

  test('anonymous requests are refused with 401 everywhere, alike for existing and unknown repositories', async () => {
    const [layer] = parts(v1).layers;
    const requests: Array<[string, string]> = [
      ['GET', '/v2/'],
      ['GET', '/v2/_catalog'],
      ['GET', '/v2/{repo}/tags/list'],
      ['GET', `/v2/{repo}/manifests/${v1.manifestDigest}`],
      ['HEAD', '/v2/{repo}/manifests/v1'],
      ['GET', `/v2/{repo}/blobs/${layer}`],
      ['POST', '/v2/{repo}/blobs/uploads/'],
      ['PUT', '/v2/{repo}/manifests/v1'],
      ['DELETE', `/v2/{repo}/manifests/${v1.manifestDigest}`],
      ['DELETE', `/v2/{repo}/blobs/${layer}`],
    ];
    for (const endpoint of endpoints()) {
      const anonymous = endpoint.clientAs(undefined);
      for (const [method, template] of requests) {
        const [existing, unknown] = await Promise.all([repository, 'nobody/nothing'].map((repo) => anonymous.request(template.replace('{repo}', repo), { method })));
        expect(`${endpoint.container} ${method} ${template}: ${existing.status}`).toBe(`${endpoint.container} ${method} ${template}: 401`);
        // Nothing tells an existing repository from an unknown one: the answers differ only in
        // the repository name the request itself named (the challenge's access detail).
        expect(unknown.status).toBe(existing.status);
        expect(unknown.body.toString().split('nobody/nothing').join(repository)).toBe(existing.body.toString());
        const comparable = (r: HttpResponse) => Object.entries(r.headers).filter(([key]) => key !== 'date' && key !== 'content-length').sort();
        expect(comparable(unknown)).toEqual(comparable(existing));
      }
    }
  });

  test('a push is visible through the reader at once: a new tag, and a tag moved after the reader served it', async () => {
    // GIVEN the reader has just served v1 (its per-process cache is warm)
    expect(await resolveTag(fixture.reader.client, repository, 'v1')).toBe(v1.manifestDigest);
    // WHEN CI pushes a new image as v2, and moves v1 to another image
    const v2 = writeOciImage(join(fixture.scratchDir, 'v2'), { tag: 'v2', layerSizes: [128 * KIB] });
    const moved = writeOciImage(join(fixture.scratchDir, 'moved'), { tag: 'v1', layerSizes: [96 * KIB] });
    await fixture.skopeo.push(v2.dir, v2.tag, repository);
    await fixture.skopeo.push(moved.dir, moved.tag, repository);
    // THEN the reader serves both immediately, byte for byte
    expect(await resolveTag(fixture.reader.client, repository, 'v2')).toBe(v2.manifestDigest);
    expect(await resolveTag(fixture.reader.client, repository, 'v1')).toBe(moved.manifestDigest);
    await expectPullsBack(fixture.reader, fixture, v2, repository, 'fresh-v2');
    await expectPullsBack(fixture.reader, fixture, moved, repository, 'fresh-moved');
    // AND the old image is still there by digest (nothing deletes by default)
    await expectPullsBack(fixture.reader, fixture, v1, repository, 'old-v1');
  });
});

describeWithBinaries('deletes turned on: only the push identity deletes, and the reader serves nothing stale', ['docker-registry', 'skopeo', 'openssl'], () => {
  const fixture = useRegistryFixture({ registry: { config: { deleteEnabled: true } } });
  const repository = 'team/app';
  let image: OciImage;
  let cachedReader: { process: RegistryProcess; client: RegistryClient };

  beforeAll(async () => {
    image = writeOciImage(join(fixture.scratchDir, 'image'), { tag: 'v1', layerSizes: [64 * KIB, 128 * KIB] });
    await fixture.skopeo.push(image.dir, image.tag, repository);
    // A control: the reader's configuration as synthesized plus the in-memory blob descriptor
    // cache the chart leaves out when deletes are on, to show what that choice prevents.
    const config = structuredClone(fixture.reader.materialized.effectiveConfig);
    config.storage.cache = { blobdescriptor: 'inmemory' };
    const port = await freeLoopbackPort();
    config.http.addr = `127.0.0.1:${port}`;
    const configPath = join(fixture.workDir, 'cached-reader.yml');
    writeFileSync(configPath, JSON.stringify(config));
    const process = await RegistryProcess.start({
      configPath, addr: config.http.addr, tmpDir: fixture.reader.materialized.tmpDir, caPem: fixture.pki!.caPem, logDir: fixture.workDir,
    });
    cachedReader = { process, client: new RegistryClient(process.url, fixture.pullCredentials, fixture.pki!.caPem) };
  }, 60_000);

  afterAll(async () => {
    await cachedReader?.process.kill();
  });

  test('the reader runs without the per-process blob descriptor cache; the writer deletes, the reader never', () => {
    expect(fixture.reader.materialized.synthesizedConfig.storage.cache).toBeUndefined();
    expect(fixture.reader.materialized.synthesizedConfig.storage.delete).toEqual({ enabled: false });
    expect(fixture.writer.materialized.synthesizedConfig.storage.delete).toEqual({ enabled: true });
  });

  test('the pull identity still cannot delete, on either path', async () => {
    for (const endpoint of [fixture.reader, fixture.writer]) {
      const asPull = endpoint.clientAs(fixture.pullCredentials);
      expectRefused(await asPull.request(`/v2/${repository}/manifests/${image.manifestDigest}`, { method: 'DELETE' }), endpoint, 'DELETE manifest');
      expectRefused(await asPull.request(`/v2/${repository}/blobs/${parts(image).layers[0]}`, { method: 'DELETE' }), endpoint, 'DELETE blob');
    }
    expect((await fixture.reader.client.getManifest(repository, image.manifestDigest)).status).toBe(200);
  });

  test('after the push identity deletes, the reader that served the image a moment ago serves none of it', async () => {
    const { layers, config } = parts(image);
    // GIVEN both readers have just served the whole image (their caches are warm)
    for (const client of [fixture.reader.client, cachedReader.client]) {
      expect(await client.verifyManifest(repository, image.manifestDigest)).toBeDefined();
    }
    // WHEN the push identity deletes the manifest and every blob through the writer
    expect((await fixture.client.request(`/v2/${repository}/manifests/${image.manifestDigest}`, { method: 'DELETE' })).status).toBe(202);
    for (const blob of [config, ...layers]) {
      expect((await fixture.client.request(`/v2/${repository}/blobs/${blob}`, { method: 'DELETE' })).status).toBe(202);
    }
    // THEN the synthesized reader answers 404 for the manifest (by digest and tag) and every blob
    expect((await fixture.reader.client.getManifest(repository, image.manifestDigest)).status).toBe(404);
    expect((await fixture.reader.client.getManifest(repository, 'v1')).status).toBe(404);
    for (const blob of [config, ...layers]) {
      expect((await fixture.reader.client.request(`/v2/${repository}/blobs/${blob}`)).status).toBe(404);
    }
    // AND the control reader, with the cache, still serves the deleted layers (the blob data
    // stays on disk until garbage collection; only the links are gone): the stale reads the
    // synthesized configuration avoids
    const stale = await cachedReader.client.request(`/v2/${repository}/blobs/${layers[0]}`);
    expect(stale.status).toBe(200);
    expect(stale.body.equals(image.blobs.get(layers[0])!)).toBe(true);
  });
});
