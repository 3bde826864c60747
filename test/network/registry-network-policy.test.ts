import { Chart, Testing } from 'cdk8s';
import { PrivateRegistry, RegistryNetworkPolicy, RegistryNetworkPolicyProps } from '../../src';
import { validateCidr } from '../../src/network/cidr';
import { findOne, Manifest, synth, validateAgainstKubernetesSchemas } from '../util/manifests';

function policyChart(props: Omit<RegistryNetworkPolicyProps, 'registry'>, ingress = true): Manifest[] {
  const chart = new Chart(Testing.app(), 'x', { namespace: 'registry' });
  const registry = new PrivateRegistry(chart, 'Registry', { host: 'registry.example.com', ingress });
  new RegistryNetworkPolicy(chart, 'NetworkPolicy', { registry, ...props });
  return synth(chart);
}

describe('RegistryNetworkPolicy', () => {
  test('admits only the ingress controller, the nodes and push namespaces, to the registry port, and no egress', () => {
    // WHEN
    const manifests = policyChart({ nodeCidrs: ['10.0.0.0/16', 'fd00:10::/64'], pushNamespaces: ['ci', 'build'] });

    // THEN
    validateAgainstKubernetesSchemas(manifests);
    const policy = findOne(manifests, 'NetworkPolicy');
    expect(policy.metadata).toEqual({ name: 'registry', namespace: 'registry' });
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: findOne(manifests, 'Deployment').spec.selector.matchLabels },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [
        {
          // Nodes pull, through the read-only port only.
          from: [{ ipBlock: { cidr: '10.0.0.0/16' } }, { ipBlock: { cidr: 'fd00:10::/64' } }],
          ports: [{ port: 5000, protocol: 'TCP' }],
        },
        {
          // The Ingress and CI push, through the writer's port only.
          from: [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
            { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['ci', 'build'] }] } },
          ],
          ports: [{ port: 5001, protocol: 'TCP' }],
        },
      ],
    });
    // The selector picks the registry's pods and nothing else.
    expect(findOne(manifests, 'Service', 'registry').spec.selector).toEqual(policy.spec.podSelector.matchLabels);
  });

  test('selects the ingress controller namespace by the given labels', () => {
    const policy = findOne(policyChart({ nodeCidrs: ['10.0.0.0/16'], ingressControllerNamespaceLabels: { 'team.example.com/ingress': 'true' } }), 'NetworkPolicy');
    expect(policy.spec.ingress[1].from[0]).toEqual({ namespaceSelector: { matchLabels: { 'team.example.com/ingress': 'true' } } });
  });

  test('admits no ingress controller when the registry has no Ingress', () => {
    const policy = findOne(policyChart({ nodeCidrs: ['10.0.0.0/16'] }, false), 'NetworkPolicy');
    expect(policy.spec.ingress).toEqual([{ from: [{ ipBlock: { cidr: '10.0.0.0/16' } }], ports: [{ port: 5000, protocol: 'TCP' }] }]);
  });

  test.each([
    ['an IPv4 address without mask', '10.0.0.1', `'nodeCidrs' must be CIDRs like "10.0.0.0/16", got "10.0.0.1" (for a single address use "10.0.0.1/32")`],
    ['an IPv6 address without mask', 'fd00::1', `'nodeCidrs' must be CIDRs like "10.0.0.0/16", got "fd00::1" (for a single address use "fd00::1/128")`],
    ['an IPv4 mask over 32', '10.0.0.0/33', `'nodeCidrs' must be CIDRs like "10.0.0.0/16", got "10.0.0.0/33"`],
    ['an IPv6 mask over 128', 'fd00::/129', `'nodeCidrs' must be CIDRs like "10.0.0.0/16", got "fd00::/129"`],
    ['a host name', 'nodes.example.com/24', `'nodeCidrs' must be CIDRs like "10.0.0.0/16", got "nodes.example.com/24"`],
    ['an address out of range', '10.0.0.256/32', `'nodeCidrs' must be CIDRs like "10.0.0.0/16", got "10.0.0.256/32"`],
    ['a non-numeric mask', '10.0.0.0/x', `'nodeCidrs' must be CIDRs like "10.0.0.0/16", got "10.0.0.0/x"`],
    ['two masks', '10.0.0.0/8/8', `'nodeCidrs' must be CIDRs like "10.0.0.0/16", got "10.0.0.0/8/8"`],
    ['an IPv6 zone', 'fe80::1%eth0/128', `'nodeCidrs' must be CIDRs like "10.0.0.0/16", got "fe80::1%eth0/128"`],
  ])('fails if a node CIDR is %s', (_, cidr, message) => {
    expect(() => policyChart({ nodeCidrs: [cidr] })).toThrow(message);
  });

  test('fails if no node CIDR is given', () => {
    expect(() => policyChart({ nodeCidrs: [] })).toThrow(`'nodeCidrs' must list at least one range (nodes pull the images), got []`);
  });

  test('fails if a push namespace is not a namespace name', () => {
    expect(() => policyChart({ nodeCidrs: ['10.0.0.0/16'], pushNamespaces: ['CI'] }))
      .toThrow(`'pushNamespaces' must be a Kubernetes namespace name (lowercase letters, digits and "-", at most 63 characters, starting and ending with a letter or digit), got "CI"`);
  });

  test('fails if the ingress controller namespace selector is empty', () => {
    expect(() => policyChart({ nodeCidrs: ['10.0.0.0/16'], ingressControllerNamespaceLabels: {} }))
      .toThrow(`'ingressControllerNamespaceLabels' must not be empty (an empty selector matches every namespace), got {}`);
  });
});

describe('validateCidr', () => {
  test.each(['0.0.0.0/0', '10.0.0.1/32', '192.168.0.0/24', '::/0', 'fd00::1/128', '2001:db8::/32'])('accepts %s', (cidr) => {
    expect(validateCidr('cidr', cidr)).toBe(cidr);
  });
});
