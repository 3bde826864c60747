import { Testing } from 'cdk8s';
import { HtpasswdSource, TrustedRegistryChart } from '../../src';
import { IMAGES } from '../../src/images';
import { Manifest, synth } from '../util/manifests';

/** Every feature of the chart that deploys a workload. */
function fullChart(): Manifest[] {
  const chart = new TrustedRegistryChart(Testing.app(), 'trusted-registry', {
    registry: { htpasswd: HtpasswdSource.generated() },
    pullNamespaces: ['team-a'],
    nodeTrust: { caConfigMapName: 'registry-ca' },
  });
  chart.grantPull('Builders', { namespaces: ['ci'], serviceAccounts: ['builder'] });
  return synth(chart);
}

function podSpecs(manifests: Manifest[]): Array<[string, Manifest]> {
  return manifests
    .filter((m) => m.spec?.template?.spec)
    .map((m) => [`${m.kind}/${m.metadata.name}`, m.spec.template.spec]);
}

describe('the chart\'s workloads', () => {
  const manifests = fullChart();

  test('fails if a Job can run for ever: every Job has an activeDeadlineSeconds', () => {
    const jobs = manifests.filter((m) => m.kind === 'Job');
    expect(jobs.length).toBe(3);
    for (const job of jobs) {
      expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(0);
      expect(job.spec.activeDeadlineSeconds).toBeLessThanOrEqual(3600);
    }
  });

  test('fails if a container must run as non-root without a uid: the kubelet then refuses any image whose user is root (BusyBox\'s)', () => {
    // Found on a real node (test/node): NodeTrust's shell copy had runAsNonRoot, no uid, and BusyBox's root user.
    for (const [owner, spec] of podSpecs(manifests)) {
      for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
        const nonRoot = container.securityContext?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot;
        const uid = container.securityContext?.runAsUser ?? spec.securityContext?.runAsUser;
        if (nonRoot) expect({ owner, container: container.name, uid: typeof uid === 'number' && uid > 0 }).toEqual({ owner, container: container.name, uid: true });
      }
    }
  });

  test('fails if an image is not one of IMAGES, pinned by digest, or comes from the withdrawn Bitnami catalogue', () => {
    const images = podSpecs(manifests).flatMap(([, spec]) => [...(spec.initContainers ?? []), ...spec.containers].map((c: { image: string }) => c.image));
    expect(new Set(images)).toEqual(new Set(Object.values(IMAGES)));
    for (const image of images) {
      expect(image).toMatch(/@sha256:[a-f0-9]{64}$/);
      expect(image).not.toMatch(/bitnami/);
    }
  });

  test('fails if a kubectl container needs a shell of its own: registry.k8s.io/kubectl runs the shell copied from IMAGES.shell', () => {
    expect(IMAGES.kubectl).toMatch(/^registry\.k8s\.io\/kubectl:v1\.\d+\.\d+@sha256:/);
    // The -musl variant is the statically linked one; the default glibc build would not run in a distroless image.
    expect(IMAGES.shell).toMatch(/^docker\.io\/library\/busybox:[\d.]+-musl@sha256:/);
    for (const [name, spec] of podSpecs(manifests)) {
      for (const container of spec.containers.filter((c: { image: string }) => c.image === IMAGES.kubectl)) {
        expect([name, container.command[0]]).toEqual([name, '/shell/sh']);
        expect(spec.initContainers[0]).toMatchObject({ name: 'shell', image: IMAGES.shell });
      }
    }
  });
});
