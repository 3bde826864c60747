import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { RegistryUser } from '../access/htpasswd';
import { HTPASSWD_SECRET_KEY, HtpasswdSecret } from '../access/htpasswd-secret';
import { RegistryCredentialsGenerator, RegistryCredentialsGeneratorOptions } from '../access/registry-credentials-generator';
import { invalid, validateObjectName } from '../validation';

/** The Secret and key the registry mounts as its htpasswd file. */
export interface BoundHtpasswd {
  /** The Secret holding the htpasswd file. */
  readonly secret: kplus.ISecret;
  /** The key of the htpasswd file in the Secret. */
  readonly key: string;
  /** The generator writing the Secret, for sources whose credentials are made in the cluster. */
  readonly generator?: RegistryCredentialsGenerator;
}

/** Where the registry's htpasswd file (its users and bcrypt hashes) comes from. */
export abstract class HtpasswdSource {
  /**
   * A Secret that already exists in the registry's namespace, created without anyone seeing the
   * password (see the README). Nothing secret is synthesized.
   *
   * @param secretName name of the Secret
   * @param key the key holding the htpasswd file
   */
  public static fromSecretName(secretName: string, key: string = HTPASSWD_SECRET_KEY): HtpasswdSource {
    validateObjectName('htpasswd secretName', secretName);
    if (!/^[-._a-zA-Z0-9]+$/.test(key)) {
      invalid('htpasswd key', 'must be a Secret data key (letters, digits, "-", "_" and ".")', key);
    }
    return new ExistingSecretHtpasswd(secretName, key);
  }

  /**
   * Users hashed with bcrypt at synth time into a new Secret. The synthesized YAML holds the
   * hashes, not the passwords; the passwords must still be kept out of source control.
   */
  public static fromUsers(users: RegistryUser[]): HtpasswdSource {
    return new UsersHtpasswd(users);
  }

  /**
   * Credentials generated in the cluster by a `RegistryCredentialsGenerator` (a Job in the
   * registry's namespace): a push and a pull identity with random passwords nobody has to see,
   * rotated by raising `generation`. The registry exposes the generator as `credentials` and
   * grants pull access to consumer namespaces with `grantPull()`. Nothing secret is synthesized.
   */
  public static generated(options: RegistryCredentialsGeneratorOptions = {}): HtpasswdSource {
    return new GeneratedHtpasswd(options);
  }

  /** Creates or references the Secret in `scope`. */
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

class ExistingSecretHtpasswd extends HtpasswdSource {
  constructor(private readonly secretName: string, private readonly key: string) {
    super();
  }

  public bind(scope: Construct): BoundHtpasswd {
    return { secret: kplus.Secret.fromSecretName(scope, 'Htpasswd', this.secretName), key: this.key };
  }
}

class UsersHtpasswd extends HtpasswdSource {
  constructor(private readonly users: RegistryUser[]) {
    super();
  }

  public bind(scope: Construct, options: HtpasswdBindOptions): BoundHtpasswd {
    const htpasswd = new HtpasswdSecret(scope, 'Htpasswd', {
      users: this.users,
      secretName: options.secretName,
      saltContext: options.saltContext,
    });
    return { secret: htpasswd.secret, key: HTPASSWD_SECRET_KEY };
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
    return {
      secret: kplus.Secret.fromSecretName(scope, 'Htpasswd', generator.htpasswdSecretName),
      key: HTPASSWD_SECRET_KEY,
      generator,
    };
  }
}
