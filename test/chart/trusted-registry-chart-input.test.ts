import { Testing } from 'cdk8s';
import { TrustedRegistryChart } from '../../src';

describe('TrustedRegistryChart input errors', () => {
  test.each(['kube-system', 'default', 'kube-public', 'kube-node-lease'])('fails if the namespace is the cluster\'s own %s', (namespace) => {
    expect(() => new TrustedRegistryChart(Testing.app(), 'chart', { namespace })).toThrow(
      `'namespace' must be a namespace of its own, not one of "default", "kube-node-lease", "kube-public", "kube-system": the chart labels it to enforce the restricted Pod Security Standard and the admission policy exempts it, got "${namespace}"`,
    );
  });

  test('fails if the host is an IP address', () => {
    expect(() => new TrustedRegistryChart(Testing.app(), 'chart', { host: '192.168.1.10' }))
      .toThrow(`'host' must be a DNS name, not an IP address (an Ingress host cannot be an IP; its last label must not be numeric), got "192.168.1.10"`);
  });
});
