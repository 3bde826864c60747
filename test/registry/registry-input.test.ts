import { Chart, Size, Testing } from 'cdk8s';
import { HtpasswdSource, PrivateRegistry, PrivateRegistryProps, RegistryConfigOptions, RegistryStorage, RegistryWorkloadKind, TlsVersion } from '../../src';
import { RegistryRole, renderRegistryConfig } from '../../src/registry/registry-config';
import { findOne, synth, validateAgainstKubernetesSchemas } from '../util/manifests';
import { MAX_GENERATION } from '../../src/access/credentials-scripts';

// Input a user could get wrong from JavaScript or by a slip, each refused at synth with the prop,
// the value and what is allowed, instead of being emitted or failing later without a name.

const host = 'registry.example.com';
const digest = `sha256:${'a'.repeat(64)}`;

function registry(props: Partial<PrivateRegistryProps> = {}): { chart: Chart; registry: PrivateRegistry } {
  const chart = new Chart(Testing.app(), 'test', { namespace: 'registry' });
  return { chart, registry: new PrivateRegistry(chart, 'Registry', { host, ...props }) };
}

const SERVICE_NAME_RULE = `'name' must be a DNS-1035 label (it names a Service): lowercase letters, digits and "-", starting with a letter, ending with a letter or digit, at most 40 characters`;
const SIZE_RULE = `'storage.size' must be a whole number of MiB from 1Mi to 1Pi (e.g. Size.gibibytes(20) or Size.mebibytes(1536))`;

describe('PrivateRegistry refuses input that would fail open or late', () => {
  test.each<[string, Partial<PrivateRegistryProps>, string]>([
    ['the host is an IPv4 address (an Ingress host cannot be an IP)', { host: '10.0.0.5' },
      `'host' must be a DNS name, not an IP address (an Ingress host cannot be an IP; its last label must not be numeric), got "10.0.0.5"`],
    ['the host is an IPv6 address', { host: 'fd00::5' }, `'host' must be a lowercase DNS name with at least one dot, without scheme, port or path (e.g. "registry.example.com"), got "fd00::5"`],
    ['the name starts with a digit (not a valid Service name)', { name: '9registry' }, `${SERVICE_NAME_RULE}, got "9registry"`],
    ['the name has a dot (blamed on the dot, not on a length)', { name: 'my.registry' }, `${SERVICE_NAME_RULE}, got "my.registry"`],
    ['the name is longer than the derived names allow', { name: `r${'e'.repeat(40)}` }, `${SERVICE_NAME_RULE}, got "r${'e'.repeat(40)}"`],
    ['the workload kind is unknown (from JavaScript)', { workloadKind: 'DaemonSet' as RegistryWorkloadKind },
      `'workloadKind' must be one of "Deployment", "StatefulSet", got "DaemonSet"`],
    ['the log level is unknown (distribution refuses to start with it)', { config: { logLevel: 'verbose' } as unknown as RegistryConfigOptions },
      `'config.logLevel' must be one of "error", "warn", "info", "debug", got "verbose"`],
    ['the minimum TLS version is unknown', { config: { minimumTls: 'tls1.0' as TlsVersion } }, `'config.minimumTls' must be one of "tls1.2", "tls1.3", got "tls1.0"`],
  ])('fails if %s', (_, props, message) => {
    expect(() => registry(props)).toThrow(message);
  });

  test('fails if the log level is unknown when rendering config.yml alone', () => {
    expect(() => renderRegistryConfig(RegistryRole.WRITER, { logLevel: 'trace' as 'debug' })).toThrow(`'config.logLevel' must be one of "error", "warn", "info", "debug", got "trace"`);
  });

  test.each<[string, Size, string]>([
    ['NaN', Size.gibibytes(NaN), 'NaNGi'],
    ['Infinity', Size.gibibytes(Infinity), 'InfinityGi'],
    ['larger than 1 PiB', Size.gibibytes(1e300), '1e+300Gi'],
    ['a fraction of a MiB', Size.kibibytes(1536), '1536Ki'],
  ])('fails if the claim size is %s', (_, size, shown) => {
    expect(() => RegistryStorage.newClaim({ size })).toThrow(`${SIZE_RULE}, got "${shown}"`);
  });

  test('writes a size that is not a whole number of GiB exactly (1536Mi), and whole GiB as before', () => {
    const claimStorage = (size: Size) => {
      const { chart } = registry({ storage: RegistryStorage.newClaim({ size }) });
      const manifests = synth(chart);
      validateAgainstKubernetesSchemas(manifests);
      return findOne(manifests, 'PersistentVolumeClaim').spec.resources;
    };
    expect(claimStorage(Size.mebibytes(1536))).toEqual({ requests: { storage: '1536Mi' } });
    expect(claimStorage(Size.mebibytes(2048))).toEqual({ requests: { storage: '2Gi' } });
    expect(claimStorage(Size.tebibytes(1))).toEqual({ requests: { storage: '1024Gi' } });
  });

  test.each([
    ['repeats the registry host', `${host}/team/app`],
    ['starts with another registry host', 'docker.io/library/nginx'],
    ['starts with localhost', 'localhost/app'],
  ])('imageReference() fails if the repository %s instead of doubling the host', (_, repository) => {
    expect(() => registry().registry.imageReference(repository, digest)).toThrow(
      `'repository' must be a path inside this registry, without a host: the reference is "${host}/<repository>@<digest>" (its first component must not contain "." or be "localhost"), got "${repository}"`,
    );
  });

  test('imageReference() keeps dots after the first component', () => {
    expect(registry().registry.imageReference('team/my.app', digest)).toBe(`${host}/team/my.app@${digest}`);
  });

  test.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
  ])('fails if the credentials generation is %s, saying so (not "null")', (shown, generation) => {
    expect(() => registry({ htpasswd: HtpasswdSource.generated({ generation }) }))
      .toThrow(`'generation' must be an integer from 1 to ${MAX_GENERATION}, got ${shown}`);
  });
});
