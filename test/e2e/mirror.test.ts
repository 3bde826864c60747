import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { TrustedImagePolicy } from '../../src';
import { describeWithBinaries } from '../util/binaries';
import { OCI_MANIFEST_MEDIA_TYPE, writeOciImage } from './oci-image';
import { freeLoopbackPort, RegistryProcess } from './registry-process';
import { Skopeo } from './skopeo';
import { useRegistryFixture } from './use-registry-fixture';

// The rollout path for real: an "upstream" docker-registry holding an image the test pushed, the
// project's registry running its synthesized configuration (TLS, htpasswd) as the target, the
// real skopeo driven by the shipped `trusted-registry` command: preflight lists what to mirror,
// mirror copies it by digest and writes the lock file, rewrite pins the user's manifests, and
// preflight then has nothing to refuse.

const CLI = join(__dirname, '..', '..', 'lib', 'src', 'cli.js');
const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';

/**
 * An OCI layout whose `tag` is an image index of two single-platform images (linux/amd64 and
 * linux/arm64): what a multi-arch image on a public registry is. Returns the index digest and the
 * digests of both platform manifests.
 */
function writeMultiPlatformImage(dir: string, tag: string): { indexDigest: string; manifestDigests: string[] } {
  const platforms = [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }];
  const images = platforms.map((_, i) => writeOciImage(dir, { tag: `platform-${i}`, layerSizes: [2048] }));
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX_MEDIA_TYPE,
    manifests: images.map((image, i) => ({
      mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: image.manifestDigest, size: image.blobs.get(image.manifestDigest)!.length, platform: platforms[i],
    })),
  }));
  const indexDigest = `sha256:${createHash('sha256').update(index).digest('hex')}`;
  writeFileSync(join(dir, 'blobs', 'sha256', indexDigest.slice('sha256:'.length)), index);
  // The layout's own index.json names only the multi-platform index, under `tag`.
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX_MEDIA_TYPE,
    manifests: [{ mediaType: OCI_INDEX_MEDIA_TYPE, digest: indexDigest, size: index.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  return { indexDigest, manifestDigests: images.map((image) => image.manifestDigest) };
}
const HOST = 'registry.example.com';

describeWithBinaries('trusted-registry mirror against real registries', ['docker-registry', 'skopeo', 'openssl', 'kubectl'], () => {
  const target = useRegistryFixture();
  let upstream: RegistryProcess;
  let upstreamAddr: string;
  let pushedDigest: string;
  let dir: string;

  beforeAll(async () => {
    dir = join(target.scratchDir, 'mirror');
    mkdirSync(join(dir, 'upstream-storage'), { recursive: true });
    mkdirSync(join(dir, 'home'), { recursive: true });
    // Upstream: plain HTTP, anonymous, as a public registry looks to a puller.
    upstreamAddr = `127.0.0.1:${await freeLoopbackPort()}`;
    const configPath = join(dir, 'upstream.yml');
    writeFileSync(configPath, JSON.stringify({
      version: 0.1,
      storage: { filesystem: { rootdirectory: join(dir, 'upstream-storage') } },
      http: { addr: upstreamAddr },
    }));
    upstream = await RegistryProcess.start({ configPath, addr: upstreamAddr, tmpDir: dir, logDir: dir });
    const image = writeOciImage(join(dir, 'layout'), { tag: '1.0', layerSizes: [4096, 1024] });
    pushedDigest = await new Skopeo({ registryAddr: upstreamAddr, workDir: join(dir, 'push') }).push(image.dir, '1.0', 'team/app');

    // Credentials for the target in a file, as `skopeo login` writes them: no password on a command line.
    const auth = Buffer.from(`${target.credentials.username}:${target.credentials.password}`).toString('base64');
    writeFileSync(join(dir, 'auth.json'), JSON.stringify({ auths: { [target.materialized.addr]: { auth } } }));

    const policy = Testing.chart();
    new TrustedImagePolicy(policy, 'Policy', { trustedSources: [HOST] });
    writeFileSync(join(dir, 'policy.yaml'), Testing.synth(policy).map((manifest) => stringify(manifest)).join('---\n'));
  }, 120_000);

  afterAll(async () => {
    await upstream?.kill();
  });

  const cli = (args: string[], input?: string) => spawnSync(process.execPath, [CLI, ...args], {
    input, encoding: 'utf-8', timeout: 120_000, env: { PATH: process.env.PATH, HOME: join(dir, 'home') },
  });
  const kubectlJson = (...args: string[]) => {
    const result = spawnSync('kubectl', [...args, '--dry-run=client', '-o', 'json'], { encoding: 'utf-8' });
    if (result.status !== 0) throw new Error(result.stderr);
    return JSON.parse(result.stdout);
  };
  const mirrorArgs = () => [
    'mirror', '--to', `${HOST}/mirror`, '--via', target.materialized.addr, '--lock', join(dir, 'images.lock.json'),
    '--authfile', join(dir, 'auth.json'), '--dest-cert-dir', target.pki!.caDir, '--src-tls-verify=false',
  ];
  const source = () => `${upstreamAddr}/team/app:1.0`;
  const missing = () => `${upstreamAddr}/team/missing:1.0`;
  const mirrored = () => `${HOST}/mirror/${upstreamAddr.replace(':', '-')}/team/app@${pushedDigest}`;

  test('preflight lists the images to mirror, mirror copies them by digest and reports the one that fails', async () => {
    // GIVEN a cluster dump with a workload on the upstream image and one on an image upstream lacks
    const dump = { apiVersion: 'v1', kind: 'List', items: [
      kubectlJson('create', 'deployment', 'app', `--image=${source()}`, '-n', 'apps'),
      kubectlJson('create', 'job', 'gone', `--image=${missing()}`, '-n', 'apps'),
    ] };
    const preflight = cli(['preflight', '--json', '--manifests', join(dir, 'policy.yaml')], JSON.stringify(dump));
    expect(preflight.status).toBe(1);
    expect(JSON.parse(preflight.stdout).imagesToMirror).toEqual([source(), missing()].sort());

    // WHEN its JSON is fed to mirror
    const mirror = cli(mirrorArgs(), preflight.stdout);

    // THEN the missing image fails by name, the other is copied, the exit status says so
    expect(mirror.status).toBe(1);
    expect(mirror.stderr).toContain(`mirror: FAILED ${missing()}: `);
    expect(mirror.stderr).toContain(`mirror: copied ${source()} -> ${mirrored()}`);
    expect(mirror.stderr).toContain('mirror: 1 copied, 0 already present, 1 failed');
    // AND the lock file maps the source to the digest reference under the registry's name
    expect(JSON.parse(readFileSync(join(dir, 'images.lock.json'), 'utf-8'))).toEqual({
      version: 1, destination: `${HOST}/mirror`, images: { [source()]: mirrored() },
    });
    // AND the target registry serves exactly that digest at the deterministic path
    const inspected = await target.skopeo.inspect(`mirror/${upstreamAddr.replace(':', '-')}/team/app`, pushedDigest);
    expect(inspected.Digest).toBe(pushedDigest);
  });

  test('a second run copies nothing that is already present', () => {
    const again = cli(mirrorArgs(), `${source()}\n`);
    expect(again.status).toBe(0);
    expect(again.stderr).toContain(`mirror: present ${source()} -> ${mirrored()}`);
    expect(again.stderr).toContain('mirror: 0 copied, 1 already present, 0 failed');
  });

  test('rewrite pins the user\'s manifests from the lock file, and preflight then refuses nothing', () => {
    // GIVEN the user's manifest as kubectl writes it
    const yaml = spawnSync('kubectl', ['create', 'deployment', 'app', `--image=${source()}`, '-n', 'apps', '--dry-run=client', '-o', 'yaml'], { encoding: 'utf-8' }).stdout;
    writeFileSync(join(dir, 'app.yaml'), yaml);

    // WHEN rewritten in place
    const rewrite = cli(['rewrite', '--lock', join(dir, 'images.lock.json'), '--in-place', join(dir, 'app.yaml')]);
    expect(rewrite.status).toBe(0);
    const rewritten = readFileSync(join(dir, 'app.yaml'), 'utf-8');
    expect(rewritten).toContain(`image: ${mirrored()}`);

    // THEN preflight over it (the rewritten workload, as a dump) reports nothing to refuse
    const preflight = cli(['preflight', '--manifests', join(dir, 'policy.yaml'), join(dir, 'app.yaml')]);
    expect(preflight.stdout).toContain('Nothing would be refused.');
    expect(preflight.status).toBe(0);
  });

  test('a multi-platform image is mirrored with every platform, under its index digest', async () => {
    // GIVEN a two-platform image index pushed upstream (every platform: --all)
    const multi = writeMultiPlatformImage(join(dir, 'multi-layout'), '2.0');
    const push = spawnSync('skopeo', ['--insecure-policy', 'copy', '--quiet', '--all', '--preserve-digests', '--dest-tls-verify=false', '--dest-no-creds',
      `oci:${join(dir, 'multi-layout')}:2.0`, `docker://${upstreamAddr}/team/multi:2.0`], { encoding: 'utf-8', env: { PATH: process.env.PATH, HOME: join(dir, 'home') } });
    expect(push.stderr).toBe('');
    expect(push.status).toBe(0);

    // WHEN it is mirrored by tag
    const image = `${upstreamAddr}/team/multi:2.0`;
    const mirror = cli(mirrorArgs(), `${image}\n`);
    expect(mirror.status).toBe(0);

    // THEN the lock pins the index digest, and the target serves the index and both platforms
    const repository = `mirror/${upstreamAddr.replace(':', '-')}/team/multi`;
    expect(JSON.parse(readFileSync(join(dir, 'images.lock.json'), 'utf-8')).images[image]).toBe(`${HOST}/${repository}@${multi.indexDigest}`);
    for (const digest of [multi.indexDigest, ...multi.manifestDigests]) {
      const raw = spawnSync('skopeo', ['inspect', '--raw', '--cert-dir', target.pki!.caDir, '--authfile', join(dir, 'auth.json'), `docker://${target.materialized.addr}/${repository}@${digest}`], { env: { PATH: process.env.PATH, HOME: join(dir, 'home') } });
      expect([digest, raw.status]).toEqual([digest, 0]);
      expect(`sha256:${createHash('sha256').update(raw.stdout).digest('hex')}`).toBe(digest);
    }
  });

  test('rewrite refuses a manifest with an image the lock file lacks', () => {
    writeFileSync(join(dir, 'other.yaml'), spawnSync('kubectl', ['create', 'deployment', 'other', `--image=${missing()}`, '--dry-run=client', '-o', 'yaml'], { encoding: 'utf-8' }).stdout);
    const rewrite = cli(['rewrite', '--lock', join(dir, 'images.lock.json'), join(dir, 'other.yaml')]);
    expect(rewrite.status).toBe(2);
    expect(rewrite.stderr).toContain(`error: not in the lock file (mirrored into ${HOST}/mirror): "${missing()}"`);
  });
});
