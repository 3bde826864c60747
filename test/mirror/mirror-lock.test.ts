import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App, Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { parseAllDocuments } from 'yaml';
import { MirrorLock } from '../../src';
import { formatImageReference, parseImageReference } from '../../src/mirror/image-reference';
import { rewriteManifestImages } from '../../src/mirror/rewrite';

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;
const NGINX = `registry.mycorp.local/mirror/docker.io/library/nginx@${DIGEST_A}`;
const BUSYBOX = `registry.mycorp.local/mirror/docker.io/library/busybox@${DIGEST_B}`;

function lock(): MirrorLock {
  const l = new MirrorLock('registry.mycorp.local/mirror');
  l.add('nginx:1.27', NGINX);
  l.add('docker.io/library/busybox:1.36', BUSYBOX);
  return l;
}

describe('image references', () => {
  test.each([
    ['nginx', 'docker.io/library/nginx'],
    ['nginx:1.27', 'docker.io/library/nginx:1.27'],
    ['bitnami/kubectl:1.30', 'docker.io/bitnami/kubectl:1.30'],
    ['index.docker.io/library/nginx', 'docker.io/library/nginx'],
    ['registry.k8s.io/coredns/coredns:v1.11.1', 'registry.k8s.io/coredns/coredns:v1.11.1'],
    ['localhost/app', 'localhost/app'],
    ['127.0.0.1:5000/team/app:v1@' + DIGEST_A, `127.0.0.1:5000/team/app:v1@${DIGEST_A}`],
  ])('%s is %s', (reference, normalized) => {
    expect(formatImageReference(parseImageReference(reference))).toBe(normalized);
  });

  test.each([
    ['', 'the repository must be lowercase'],
    ['Nginx', 'the repository must be lowercase'],
    [`nginx@sha256:${'A'.repeat(64)}`, 'the digest must be sha256:<64 lowercase hex>'],
    ['nginx:', 'invalid tag'],
    ['a..b/c', 'invalid registry host'],
  ])('fails if given %j', (reference, why) => {
    expect(() => parseImageReference(reference)).toThrow(`"${reference}" is not an image reference: ${why}`);
  });
});

describe('MirrorLock', () => {
  test('places each source under its host and repository, the port written as -port', () => {
    expect(lock().targetRepository('nginx:1.27')).toBe('registry.mycorp.local/mirror/docker.io/library/nginx');
    expect(lock().targetRepository(`127.0.0.1:5000/team/app@${DIGEST_A}`)).toBe('registry.mycorp.local/mirror/127.0.0.1-5000/team/app');
    expect(new MirrorLock('registry.mycorp.local').targetRepository('quay.io/a/b:1')).toBe('registry.mycorp.local/quay.io/a/b');
  });

  test('looks sources up as written, then normalized', () => {
    expect(lock().lookup('nginx:1.27')).toBe(NGINX);
    expect(lock().lookup('docker.io/library/nginx:1.27')).toBe(NGINX);
    expect(lock().lookup('busybox:1.36')).toBe(BUSYBOX);
    expect(lock().lookup('nginx:1.28')).toBeUndefined();
    expect(lock().lookup('not a reference')).toBeUndefined();
  });

  test('resolveImage keeps mirrored references and refuses what is not in the lock', () => {
    expect(lock().resolveImage('nginx:1.27')).toBe(NGINX);
    expect(lock().resolveImage(BUSYBOX)).toBe(BUSYBOX);
    expect(() => lock().resolveImage('nginx:1.28')).toThrow('image "nginx:1.28" is not in the lock file (mirrored into registry.mycorp.local/mirror); run `trusted-registry mirror` for it first');
    // Under the destination but not pinned: refused too.
    expect(() => lock().resolveImage('registry.mycorp.local/mirror/docker.io/library/nginx:1.27')).toThrow('is not in the lock file');
  });

  test('the file is sorted and round-trips', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    try {
      const path = join(dir, 'images.lock.json');
      writeFileSync(path, lock().toJson());
      expect(JSON.parse(readFileSync(path, 'utf-8'))).toEqual({
        version: 1,
        destination: 'registry.mycorp.local/mirror',
        images: { 'docker.io/library/busybox:1.36': BUSYBOX, 'nginx:1.27': NGINX },
      });
      expect(MirrorLock.fromFile(path).toJson()).toBe(lock().toJson());
      expect(MirrorLock.fromFileOrEmpty(join(dir, 'new.json'), 'registry.mycorp.local/mirror/').entries).toEqual({});
      expect(() => MirrorLock.fromFileOrEmpty(path, 'other.mycorp.local')).toThrow(`${path} records mirrors into registry.mycorp.local/mirror, not other.mycorp.local; use another lock file`);
      writeFileSync(path, '{"images": {}}');
      expect(() => MirrorLock.fromFile(path)).toThrow('is not a trusted-registry lock file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each([
    ['a destination with a scheme', () => new MirrorLock('https://registry.mycorp.local'), `'destination' must be a registry host with an optional repository path (e.g. "registry.mycorp.local/mirror"), got "https://registry.mycorp.local"`],
    ['a mirror outside the destination', () => lock().add('nginx', `evil.com/nginx@${DIGEST_A}`), `the mirror of nginx must be registry.mycorp.local/mirror/...@sha256:<64 hex>, got evil.com/nginx@${DIGEST_A}`],
    ['a mirror without digest', () => lock().add('nginx', 'registry.mycorp.local/mirror/nginx:1'), 'the mirror of nginx must be'],
  ])('fails if given %s', (_name, make, message) => {
    expect(make).toThrow(message);
  });

  test('as a cdk8s resolver, rewrites every container image of an app at synth', () => {
    // GIVEN a user's chart with images from Docker Hub
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'resolver-')), resolvers: [lock()] });
    const chart = new Chart(app, 'user');
    new kplus.Deployment(chart, 'Web', {
      containers: [{ image: 'nginx:1.27', securityContext: { ensureNonRoot: false } }],
      initContainers: [{ image: 'busybox:1.36', securityContext: { ensureNonRoot: false } }],
    });
    try {
      // WHEN
      const [deployment] = parseAllDocuments(app.synthYaml()).map((d) => d.toJS());
      // THEN
      expect(deployment.spec.template.spec.containers[0].image).toBe(NGINX);
      expect(deployment.spec.template.spec.initContainers[0].image).toBe(BUSYBOX);
    } finally {
      rmSync(app.outdir, { recursive: true, force: true });
    }
  });

  test('as a cdk8s resolver, fails the synth on an image missing from the lock', () => {
    const app = Testing.app({ resolvers: [lock()] });
    new kplus.Deployment(new Chart(app, 'user'), 'Web', { containers: [{ image: 'redis:7' }] });
    expect(() => app.synthYaml()).toThrow('image "redis:7" is not in the lock file');
  });
});

describe('rewriteManifestImages', () => {
  const manifests = `# the user's manifests
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: web
      image: nginx:1.27 # pinned below
  ephemeralContainers:
    - name: debug
      image: busybox:1.36
  volumes:
    - name: data
      image:
        reference: docker.io/library/busybox:1.36
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: c
  annotations:
    image: nginx:1.27
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
            - name: init
              image: ${BUSYBOX}
          containers:
            - name: job
              image: docker.io/library/nginx:1.27
`;

  test('replaces every pod-spec image and nothing else, keeping comments', () => {
    const rewritten = rewriteManifestImages(manifests, lock());
    const [pod, cron] = parseAllDocuments(rewritten).map((d) => d.toJS());
    expect(pod.spec.containers[0].image).toBe(NGINX);
    expect(pod.spec.ephemeralContainers[0].image).toBe(BUSYBOX);
    expect(pod.spec.volumes[0].image.reference).toBe(BUSYBOX);
    expect(cron.spec.jobTemplate.spec.template.spec.containers[0].image).toBe(NGINX);
    expect(cron.spec.jobTemplate.spec.template.spec.initContainers[0].image).toBe(BUSYBOX);
    expect(cron.metadata.annotations.image).toBe('nginx:1.27');
    expect(rewritten).toContain("# the user's manifests");
    expect(rewritten).toContain('# pinned below');
  });

  test('fails naming every image missing from the lock file', () => {
    const missing = manifests.replace('image: nginx:1.27 #', 'image: redis:7 #').replace('name: debug\n      image: busybox:1.36', 'name: debug\n      image: alpine');
    expect(() => rewriteManifestImages(missing, lock())).toThrow('not in the lock file (mirrored into registry.mycorp.local/mirror): "alpine", "redis:7"; run `trusted-registry mirror` for them first');
  });
});

describe('mirrorImages', () => {
  test('fails if given a via that is not host[:port]', async () => {
    const { mirrorImages } = await import('../../src/mirror/mirror');
    await expect(mirrorImages(['nginx'], { lock: lock(), via: 'https://127.0.0.1:5000' })).rejects.toThrow(`'via' must be host or host:port, got "https://127.0.0.1:5000"`);
  });

  test('a skopeo that cannot run fails each image by name and the others continue', async () => {
    const { mirrorImages } = await import('../../src/mirror/mirror');
    const result = await mirrorImages([`quay.io/a/b@${DIGEST_A}`, 'not a reference'], { lock: lock(), skopeo: { command: '/nonexistent/skopeo' } });
    expect(result.copied).toEqual([]);
    expect(result.failed).toEqual([
      { image: 'not a reference', error: '"not a reference" is not an image reference: the repository must be lowercase "/"-separated components' },
      { image: `quay.io/a/b@${DIGEST_A}`, error: 'cannot run skopeo: spawn /nonexistent/skopeo ENOENT' },
    ]);
  });
});
