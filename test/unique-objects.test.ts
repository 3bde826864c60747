import { App, Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { KubeValidatingAdmissionPolicy, KubeValidatingAdmissionPolicyV1Beta1 } from '../imports/k8s';
import {
  HtpasswdSource, NodeTrust, PrivateRegistry, RegistryNetworkPolicy, TrustedImagePolicy, TrustedRegistryChart, UniqueObjectsCheck,
} from '../src';
import { Manifest } from './util/manifests';

const HOST = 'registry.example.com';

/** What `app.synthYaml()` throws, or undefined. */
function synthError(app: App): string | undefined {
  try {
    app.synthYaml();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

describe('duplicate objects across the whole app are refused at synth', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  test('fails if two PrivateRegistry in two charts of one namespace have the same name', () => {
    // GIVEN
    const app = Testing.app();
    for (const id of ['team-a', 'team-b']) {
      new PrivateRegistry(new Chart(app, id, { namespace: 'images' }), 'Registry', { host: `${id}.example.com` });
    }

    // THEN
    const error = synthError(app)!;
    expect(error).toContain('[] duplicate object: Service "registry" in namespace "images" (API group "core") is defined by team-a/Registry/Service/Resource and team-b/Registry/Service/Resource; applied one after the other, the last replaces the others: give each its own name or namespace');
    expect(error).toContain('duplicate object: Deployment "registry" in namespace "images" (API group "apps")');
    expect(error).toContain('duplicate object: Ingress "registry" in namespace "images" (API group "networking.k8s.io")');
  });

  test('two registries in different namespaces, or with different names, are fine', () => {
    const app = Testing.app();
    new PrivateRegistry(new Chart(app, 'a', { namespace: 'images-a' }), 'Registry', { host: 'a.example.com' });
    new PrivateRegistry(new Chart(app, 'b', { namespace: 'images-b' }), 'Registry', { host: 'b.example.com' });
    const c = new Chart(app, 'c', { namespace: 'images-a' });
    new PrivateRegistry(c, 'Registry', { host: 'c.example.com', name: 'mirror' });
    expect(synthError(app)).toBeUndefined();
  });

  test('fails if two TrustedImagePolicy in charts of different namespaces share the cluster-scoped name trusted-images', () => {
    // GIVEN
    const app = Testing.app();
    new TrustedImagePolicy(new Chart(app, 'a', { namespace: 'a' }), 'Policy', { trustedSources: ['a.example.com'] });
    new TrustedImagePolicy(new Chart(app, 'b', { namespace: 'b' }), 'Policy', { trustedSources: ['b.example.com'] });

    // THEN
    expect(synthError(app)).toContain('duplicate object: ValidatingAdmissionPolicy "trusted-images" (API group "admissionregistration.k8s.io") is defined by a/Policy/Resource and b/Policy/Resource');
  });

  test('fails if two versions of one group define the same object', () => {
    const app = Testing.app();
    const chart = new Chart(app, 'chart');
    UniqueObjectsCheck.addTo(chart);
    new KubeValidatingAdmissionPolicy(chart, 'V1', { metadata: { name: 'p' } });
    new KubeValidatingAdmissionPolicyV1Beta1(chart, 'V1Beta1', { metadata: { name: 'p' } });
    expect(synthError(app)).toContain('duplicate object: ValidatingAdmissionPolicy "p" (API group "admissionregistration.k8s.io") is defined by chart/V1 and chart/V1Beta1');
  });

  test('fails if two NetworkPolicies or two NodeTrust are made for one registry', () => {
    // GIVEN
    const app = Testing.app();
    const chart = new Chart(app, 'chart', { namespace: 'images' });
    const registry = new PrivateRegistry(chart, 'Registry', { host: HOST });
    new RegistryNetworkPolicy(chart, 'Policy1', { registry, nodeCidrs: ['10.0.0.0/24'] });
    new RegistryNetworkPolicy(chart, 'Policy2', { registry, nodeCidrs: ['10.0.0.0/24'] });
    new NodeTrust(chart, 'Trust1', { registry, caConfigMapName: 'ca' });
    new NodeTrust(new Chart(app, 'other', { namespace: 'other' }), 'Trust2', { registry, caConfigMapName: 'ca' });

    // THEN
    const error = synthError(app)!;
    expect(error).toContain('duplicate object: NetworkPolicy "registry" in namespace "images" (API group "networking.k8s.io") is defined by chart/Policy1/Resource and chart/Policy2/Resource');
    expect(error).toContain('duplicate object: DaemonSet "images-registry-node-trust" in namespace "kube-system" (API group "apps") is defined by chart/Trust1/Resource and other/Trust2/Resource');
    expect(error).toContain('duplicate object: Role "images-registry-node-trust" in namespace "images" (API group "rbac.authorization.k8s.io")');
  });

  test('UniqueObjectsCheck.addTo() checks an app that uses none of the constructs', () => {
    // GIVEN
    const app = Testing.app();
    new kplus.ConfigMap(new Chart(app, 'a', { namespace: 'shared' }), 'Config', { metadata: { name: 'settings' } });
    new kplus.ConfigMap(new Chart(app, 'b', { namespace: 'shared' }), 'Config', { metadata: { name: 'settings' } });
    expect(synthError(app)).toBeUndefined();

    // WHEN
    UniqueObjectsCheck.addTo(app);

    // THEN
    expect(synthError(app)).toContain('duplicate object: ConfigMap "settings" in namespace "shared" (API group "core") is defined by a/Config/Resource and b/Config/Resource');
  });

  test('fails if an app has two TrustedRegistryChart, saying why', () => {
    const app = Testing.app();
    new TrustedRegistryChart(app, 'a', { namespace: 'images-a', host: 'a.example.com' });
    expect(() => new TrustedRegistryChart(app, 'b', { namespace: 'images-b', host: 'b.example.com' })).toThrow(
      `'TrustedRegistryChart' must be the only one in its app (its admission policy is one per cluster), got a second one at "b" besides "a": every pod must pass every ValidatingAdmissionPolicy, so two charts' policies would refuse each other's images; to trust several registries, use one TrustedImagePolicy with several 'trustedSources', got "b"`,
    );
  });

  test('two installs of the chart in different namespaces share only the one-per-cluster policy and its binding', () => {
    // GIVEN two apps, as two synths of the default app with different namespaces
    const identities = (namespace: string) => (Testing.synth(new TrustedRegistryChart(Testing.app(), 'trusted-registry', {
      namespace,
      pullNamespaces: ['team-a'],
      registry: { htpasswd: HtpasswdSource.generated() },
      nodeTrust: { caConfigMapName: 'registry-ca' },
    })) as Manifest[]).map((m) => `${m.apiVersion} ${m.kind} ${m.metadata.namespace ?? '-'} ${m.metadata.name}`);

    // WHEN
    const b = new Set(identities('images-b'));
    const shared = identities('images-a').filter((identity) => b.has(identity));

    // THEN
    expect(shared).toEqual([
      'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy - trusted-images',
      'admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding - trusted-images',
    ]);
  });
});
