import { createHash } from 'crypto';
import * as bcrypt from 'bcryptjs';
import { Testing } from 'cdk8s';
import { HtpasswdSecret, HtpasswdSource } from '../../src';
import { HTPASSWD_BCRYPT_COST, htpasswdLine } from '../../src/access/htpasswd';
import { synth, validateAgainstKubernetesSchemas } from '../util/manifests';

const password = 'correct-horse-battery-staple';
const saltSeed = 'a-secret-salt-seed-of-32-characters-or-more';

describe('htpasswdLine', () => {
  test('writes a bcrypt hash at the documented cost that verifies the password', () => {
    // WHEN
    const line = htpasswdLine({ username: 'ci', password }, { saltSeed, saltContext: 'registry.example.com' });

    // THEN
    const [username, hash] = line.split(':');
    expect(username).toBe('ci');
    expect(hash).toMatch(new RegExp(`^\\$2y\\$0${HTPASSWD_BCRYPT_COST}\\$[./A-Za-z0-9]{53}$`));
    expect(bcrypt.compareSync(password, hash)).toBe(true);
    expect(bcrypt.compareSync(`${password}x`, hash)).toBe(false);
  });

  test('is deterministic for the same input and differs across registries and users', () => {
    const a = htpasswdLine({ username: 'ci', password }, { saltSeed, saltContext: 'a.example.com' });
    expect(htpasswdLine({ username: 'ci', password }, { saltSeed, saltContext: 'a.example.com' })).toBe(a);
    expect(htpasswdLine({ username: 'ci', password }, { saltSeed, saltContext: 'b.example.com' })).not.toBe(a);
    expect(htpasswdLine({ username: 'cd', password }, { saltSeed, saltContext: 'a.example.com' }).split(':')[1]).not.toBe(a.split(':')[1]);
  });

  test('does not derive the salt from the password', () => {
    // A salt computed from the password would let an attacker test guesses with a fast hash.
    const salt = (line: string) => line.split(':')[1].slice(0, 29);
    expect(salt(htpasswdLine({ username: 'ci', password }, { saltSeed }))).toBe(salt(htpasswdLine({ username: 'ci', password: `${password}-other` }, { saltSeed })));
  });

  test.each([
    ['an empty user name', { username: '', password }, `'user.username' must be a non-empty name without ":" or whitespace, got ""`],
    ['a user name with ":"', { username: 'a:b', password }, `'user.username' must be a non-empty name without ":" or whitespace, got "a:b"`],
    ['a user name with a space', { username: 'a b', password }, `'user.username' must be a non-empty name without ":" or whitespace, got "a b"`],
    ['a password shorter than 16 characters', { username: 'ci', password: 'short-password1' }, `'user.password' must be at least 16 characters (use a random one), got 15 characters`],
    ['a password longer than 72 bytes', { username: 'ci', password: 'x'.repeat(73) }, `'user.password' must be at most 72 bytes (bcrypt ignores the rest), got 73 bytes`],
  ])('fails if given %s', (_, user, message) => {
    expect(() => htpasswdLine(user, { saltSeed })).toThrow(message);
  });

  test('fails if the salt can be computed from public data: the seed changes every salt', () => {
    // GIVEN the same user and registry, two seeds
    const salt = (line: string) => line.split(':')[1].slice(7, 29);
    const withSeed = (seed: string) => salt(htpasswdLine({ username: 'ci', password }, { saltSeed: seed, saltContext: 'registry.example.com' }));

    // THEN the salt depends on the seed, and is not what public data alone (host and user) gives
    expect(withSeed(saltSeed)).not.toBe(withSeed(`${saltSeed}-2`));
    const publicOnly = createHash('sha256').update('cdk8s-trusted-registry/htpasswd\0registry.example.com\0ci').digest().subarray(0, 16);
    expect(withSeed(saltSeed)).not.toBe(bcrypt.encodeBase64(publicOnly, 16).slice(0, 22));
  });

  test.each([
    ['no seed', undefined, 'undefined'],
    ['an empty seed', '', '0 characters'],
    ['a short seed', 'x'.repeat(31), '31 characters'],
  ])('fails if given %s, without showing it', (_, seed, got) => {
    expect(() => htpasswdLine({ username: 'ci', password }, { saltSeed: seed as string }))
      .toThrow(`'saltSeed' must be a secret of at least 32 characters (e.g. the output of "openssl rand -hex 32", kept out of source control like the passwords): bcrypt salts derived from public data alone can be attacked with one precomputed table per host and user name; got ${got}`);
    expect(() => new HtpasswdSecret(Testing.chart(), 'Users', { saltSeed: seed as string, users: [{ username: 'ci', password }] })).toThrow(`'saltSeed' must be a secret`);
    expect(() => HtpasswdSource.fromUsers({ pushUsers: [{ username: 'ci', password }], pullUsers: [{ username: 'nodes', password }], saltSeed: seed as string }))
      .toThrow(`'htpasswd saltSeed' must be a secret`);
  });

  test('fails if the cost is outside bcrypt\'s range', () => {
    expect(() => htpasswdLine({ username: 'ci', password }, { saltSeed, cost: 3 })).toThrow(`'cost' must be an integer from 4 to 31, got 3`);
  });
});

describe('HtpasswdSecret', () => {
  test('holds one line per user and no password', () => {
    // GIVEN
    const chart = Testing.chart();

    // WHEN
    new HtpasswdSecret(chart, 'Users', {
      saltSeed,
      secretName: 'registry-htpasswd',
      users: [{ username: 'ci', password }, { username: 'cluster', password: `${password}-2` }],
    });

    // THEN
    const manifests = synth(chart);
    validateAgainstKubernetesSchemas(manifests);
    expect(manifests).toHaveLength(1);
    const htpasswd: string = manifests[0].stringData.htpasswd;
    expect(htpasswd.split('\n')).toEqual([expect.stringMatching(/^ci:\$2y\$/), expect.stringMatching(/^cluster:\$2y\$/), '']);
    expect(JSON.stringify(manifests)).not.toContain(password);
  });

  test('fails if no user is given', () => {
    expect(() => new HtpasswdSecret(Testing.chart(), 'Users', { saltSeed, users: [] })).toThrow(`'users' must list at least one user, got []`);
  });

  test('fails if a user name is listed twice', () => {
    const users = [{ username: 'ci', password }, { username: 'ci', password }];
    expect(() => new HtpasswdSecret(Testing.chart(), 'Users', { saltSeed, users })).toThrow(`'users[].username' must not list the same value twice, got "ci"`);
  });

  test('fails if the Secret name is not a Kubernetes name', () => {
    expect(() => new HtpasswdSecret(Testing.chart(), 'Users', { saltSeed, users: [{ username: 'ci', password }], secretName: 'Bad_Name' }))
      .toThrow(`'secretName' must be a Kubernetes object name (lowercase DNS subdomain: letters, digits, "-" and ".", at most 253 characters), got "Bad_Name"`);
  });
});
