import { ApiObject, JsonPatch, Size, SizeRoundingBehavior } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { validateClaimSize, validateObjectName } from '../validation';

/** Options of a PersistentVolumeClaim the registry creates for its blobs. */
export interface NewClaimOptions {
  /**
   * Requested capacity.
   * @default Size.gibibytes(10)
   */
  readonly size?: Size;

  /**
   * StorageClass of the claim.
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;

  /**
   * Access mode. Only `READ_WRITE_MANY` lets several replicas share the storage.
   * @default kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE
   */
  readonly accessMode?: kplus.PersistentVolumeAccessMode;
}

/** Options of an existing claim. */
export interface ExistingClaimOptions {
  /**
   * Whether several pods may mount the claim at once (e.g. a ReadWriteMany volume); required
   * for more than one replica.
   * @default false
   */
  readonly shared?: boolean;
}

/** What the registry mounts at its storage path. */
export interface BoundRegistryStorage {
  /** The claim to mount. */
  readonly claim: kplus.IPersistentVolumeClaim;
  /** Whether several pods can mount it at once. */
  readonly shared: boolean;
}

/** Where the registry keeps blobs and manifests (the filesystem storage driver). */
export abstract class RegistryStorage {
  /** A new PersistentVolumeClaim, created with the registry. */
  public static newClaim(options: NewClaimOptions = {}): RegistryStorage {
    return new NewClaimStorage(options);
  }

  /** A PersistentVolumeClaim that already exists in the registry's namespace. */
  public static fromClaimName(claimName: string, options: ExistingClaimOptions = {}): RegistryStorage {
    validateObjectName('claimName', claimName);
    return new ExistingClaimStorage(claimName, options.shared ?? false);
  }

  /** Creates or references the claim in `scope`; `claimName` names a claim it creates. */
  public abstract bind(scope: Construct, claimName: string): BoundRegistryStorage;
}

class NewClaimStorage extends RegistryStorage {
  constructor(private readonly options: NewClaimOptions) {
    super();
    if (options.size !== undefined) {
      validateClaimSize('storage.size', options.size);
    }
    if (options.storageClassName !== undefined) {
      validateObjectName('storage.storageClassName', options.storageClassName);
    }
  }

  public bind(scope: Construct, claimName: string): BoundRegistryStorage {
    const accessMode = this.options.accessMode ?? kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE;
    const size = this.options.size ?? Size.gibibytes(10);
    const wholeGibibytes = Number.isInteger(size.toGibibytes({ rounding: SizeRoundingBehavior.NONE }));
    const claim = new kplus.PersistentVolumeClaim(scope, 'Data', {
      metadata: { name: claimName },
      // cdk8s-plus writes only whole Gi: other sizes are written exactly, in Mi, below.
      storage: wholeGibibytes ? size : undefined,
      storageClassName: this.options.storageClassName,
      accessModes: [accessMode],
      volumeMode: kplus.PersistentVolumeMode.FILE_SYSTEM,
    });
    if (!wholeGibibytes) {
      // A Quantity, as the generated PersistentVolumeClaim's serializer expects after patches.
      ApiObject.of(claim).addJsonPatch(JsonPatch.add('/spec/resources', {
        requests: { storage: k8s.Quantity.fromString(`${size.toMebibytes({ rounding: SizeRoundingBehavior.NONE })}Mi`) },
      }));
    }
    return { claim, shared: accessMode === kplus.PersistentVolumeAccessMode.READ_WRITE_MANY };
  }
}

class ExistingClaimStorage extends RegistryStorage {
  constructor(private readonly claimName: string, private readonly shared: boolean) {
    super();
  }

  public bind(scope: Construct): BoundRegistryStorage {
    return {
      claim: kplus.PersistentVolumeClaim.fromClaimName(scope, 'Data', this.claimName),
      shared: this.shared,
    };
  }
}
