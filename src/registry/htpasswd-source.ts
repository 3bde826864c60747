import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { htpasswdLine, RegistryUser, validateRegistryUser, validateSaltSeed } from '../access/htpasswd';
import { HtpasswdKeys } from '../access/htpasswd-secret';
import { RegistryCredentialsGenerator, RegistryCredentialsGeneratorOptions } from '../access/registry-credentials-generator';
import { invalid, validateObjectName, validateUnique } from '../validation';

/** One htpasswd file: a key of a Secret. */
export interface HtpasswdFile {
  /** The Secret holding the file. */
  readonly secret: kplus.ISecret;
  /** The key of the file in the Secret. */
  readonly key: string;
}

/** The htpasswd files the registry mounts. */
export interface BoundHtpasswd {
  /** The push users, mounted by the writer (the push Service and the Ingress). */
  readonly push: HtpasswdFile;
  /** The pull users, mounted by the read-only reader (the Service nodes and tenants pull through). */
  readonly pull: HtpasswdFile;
  /** The generator writing the Secret, for sources whose credentials are made in the cluster. */
  readonly generator?: RegistryCredentialsGenerator;
}

/** Options of `HtpasswdSource.fromSecretName()`. */
export interface ExistingHtpasswdOptions {
  /**
   * Key of the file holding the pull users (the read-only path).
   * @default HtpasswdKeys.PULL ('htpasswd-pull')
   */
  readonly pullKey?: string;

  /**
   * Key of the file holding the push users (the writer).
   * @default HtpasswdKeys.PUSH ('htpasswd-push')
   */
  readonly pushKey?: string;

  /**
   * The Secret holding the push users' file, when it is not the same Secret.
   * @default - the same Secret as the pull users
   */
  readonly pushSecretName?: string;
}

/** Options of `HtpasswdSource.fromUsers()`. */
export interface HtpasswdUsersOptions {
  /** Users that may push (and pull) through the writer: CI. At least one. */
  readonly pushUsers: RegistryUser[];
  /** Users that may only pull, through the read-only path: nodes and tenants. At least one. */
  readonly pullUsers: RegistryUser[];
  /**
   * A secret of at least 32 characters (e.g. `openssl rand -hex 32`) from which the bcrypt salts
   * are derived, with the registry's host and each user name, so the hashes are the same on every
   * synth and cannot be precomputed from public data. Keep it out of source control.
   */
  readonly saltSeed: string;
}

/** Where the registry's htpasswd files (its users and bcrypt hashes) come from. */
export abstract class HtpasswdSource {
  /**
   * A Secret that already exists in the registry's namespace, created without anyone seeing a
   * password (see the README), with the push users under `pushKey` and the pull users under
   * `pullKey`. Nothing secret is synthesized. The chart cannot read the files; it refuses only
   * what it can tell gives the pull path the push users' file (the same Secret and key for both).
   *
   * @param secretName name of the Secret
   * @param options the keys, and a separate Secret for the push users
   */
  public static fromSecretName(secretName: string, options: ExistingHtpasswdOptions = {}): HtpasswdSource {
    validateObjectName('htpasswd secretName', secretName);
    const pushSecretName = validateObjectName('htpasswd pushSecretName', options.pushSecretName ?? secretName);
    const pullKey = validateKey('htpasswd pullKey', options.pullKey ?? HtpasswdKeys.PULL);
    const pushKey = validateKey('htpasswd pushKey', options.pushKey ?? HtpasswdKeys.PUSH);
    if (pushSecretName === secretName && pushKey === pullKey) {
      invalid('htpasswd pullKey', `must differ from 'pushKey' when both files are in the Secret "${secretName}": the read-only path would authenticate the push users and the writer the pull users`, pullKey);
    }
    return new ExistingSecretHtpasswd(secretName, pullKey, pushSecretName, pushKey);
  }

  /**
   * Users hashed with bcrypt at synth time into a new Secret, push users under
   * `HtpasswdKeys.PUSH` and pull users under `HtpasswdKeys.PULL`. The synthesized YAML holds the
   * hashes, not the passwords; the passwords and the salt seed must still be kept out of source
   * control.
   */
  public static fromUsers(options: HtpasswdUsersOptions): HtpasswdSource {
    const pushUsers = validateUsers('htpasswd pushUsers', options.pushUsers);
    const pullUsers = validateUsers('htpasswd pullUsers', options.pullUsers);
    const pushNames = new Set(pushUsers.map((user) => user.username));
    pullUsers.forEach((user, index) => {
      if (pushNames.has(user.username)) {
        invalid(`htpasswd pullUsers[${index}].username`, 'must not also be a push user: the pull identity would be able to write', user.username);
      }
    });
    return new UsersHtpasswd(pushUsers, pullUsers, validateSaltSeed('htpasswd saltSeed', options.saltSeed));
  }

  /**
   * Credentials generated in the cluster by a `RegistryCredentialsGenerator` (a Job in the
   * registry's namespace): a push and a pull identity with random passwords nobody has to see,
   * rotated together by raising `generation`. The registry exposes the generator as `credentials`
   * and grants pull access to consumer namespaces with `grantPull()`. Nothing secret is synthesized.
   */
  public static generated(options: RegistryCredentialsGeneratorOptions = {}): HtpasswdSource {
    return new GeneratedHtpasswd(options);
  }

  /** Creates or references the Secret(s) in `scope`. */
  public abstract bind(scope: Construct, options: HtpasswdBindOptions): BoundHtpasswd;
}


/** What `HtpasswdSource.bind()` needs from the registry. */
export interface HtpasswdBindOptions {
  /** Name for a Secret the source creates. */
  readonly secretName: string;
  /** Non-secret text unique to the registry, mixed into bcrypt salts. */
  readonly saltContext: string;
  /** The registry's host, as clients write it in image references. */
  readonly host: string;
  /** Base name of the registry's objects. */
  readonly registryName: string;
}

function validateKey(prop: string, key: string): string {
  if (!/^[-._a-zA-Z0-9]+$/.test(key)) {
    invalid(prop, 'must be a Secret data key (letters, digits, "-", "_" and ".")', key);
  }
  return key;
}

function validateUsers(prop: string, users: RegistryUser[]): RegistryUser[] {
  if (!Array.isArray(users) || users.length === 0) {
    invalid(prop, 'must list at least one user', users);
  }
  users.forEach((user, index) => validateRegistryUser(`${prop}[${index}]`, user));
  validateUnique(`${prop}[].username`, users.map((user) => user.username));
  return users;
}

class ExistingSecretHtpasswd extends HtpasswdSource {
  constructor(
    private readonly secretName: string,
    private readonly pullKey: string,
    private readonly pushSecretName: string,
    private readonly pushKey: string,
  ) {
    super();
  }

  public bind(scope: Construct): BoundHtpasswd {
    const secret = kplus.Secret.fromSecretName(scope, 'Htpasswd', this.secretName);
    const pushSecret = this.pushSecretName === this.secretName
      ? secret
      : kplus.Secret.fromSecretName(scope, 'PushHtpasswd', this.pushSecretName);
    return { push: { secret: pushSecret, key: this.pushKey }, pull: { secret, key: this.pullKey } };
  }
}

class UsersHtpasswd extends HtpasswdSource {
  constructor(private readonly pushUsers: RegistryUser[], private readonly pullUsers: RegistryUser[], private readonly saltSeed: string) {
    super();
  }

  public bind(scope: Construct, options: HtpasswdBindOptions): BoundHtpasswd {
    const file = (users: RegistryUser[]) => users.map((user) => htpasswdLine(user, { saltSeed: this.saltSeed, saltContext: options.saltContext })).join('\n') + '\n';
    const secret = new kplus.Secret(scope, 'Htpasswd', {
      metadata: { name: options.secretName },
      stringData: { [HtpasswdKeys.PUSH]: file(this.pushUsers), [HtpasswdKeys.PULL]: file(this.pullUsers) },
    });
    return { push: { secret, key: HtpasswdKeys.PUSH }, pull: { secret, key: HtpasswdKeys.PULL } };
  }
}

class GeneratedHtpasswd extends HtpasswdSource {
  constructor(private readonly options: RegistryCredentialsGeneratorOptions) {
    super();
  }

  public bind(scope: Construct, options: HtpasswdBindOptions): BoundHtpasswd {
    const generator = new RegistryCredentialsGenerator(scope, 'Credentials', {
      ...this.options,
      host: options.host,
      name: options.registryName,
      htpasswdSecretName: options.secretName,
    });
    const secret = kplus.Secret.fromSecretName(scope, 'Htpasswd', generator.htpasswdSecretName);
    return {
      push: { secret, key: HtpasswdKeys.PUSH },
      pull: { secret, key: HtpasswdKeys.PULL },
      generator,
    };
  }
}
