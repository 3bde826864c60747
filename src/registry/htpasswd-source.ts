import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { RegistryUser } from '../access/htpasswd';
import { HTPASSWD_SECRET_KEY, HtpasswdSecret } from '../access/htpasswd-secret';
import { invalid, validateObjectName } from '../validation';

/** The Secret and key the registry mounts as its htpasswd file. */
export interface BoundHtpasswd {
  /** The Secret holding the htpasswd file. */
  readonly secret: kplus.ISecret;
  /** The key of the htpasswd file in the Secret. */
  readonly key: string;
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

  /** Creates or references the Secret in `scope`. */
  public abstract bind(scope: Construct, options: HtpasswdBindOptions): BoundHtpasswd;
}

/** What `HtpasswdSource.bind()` needs from the registry. */
export interface HtpasswdBindOptions {
  /** Name for a Secret the source creates. */
  readonly secretName: string;
  /** Non-secret text unique to the registry, mixed into bcrypt salts. */
  readonly saltContext: string;
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
