import type * as CertManager from '../../imports/cert-manager.io';

/**
 * The generated cert-manager constructs, loaded on first use rather than at import: the module is
 * large and every synth would pay for it, while most charts never create a cert-manager object.
 * A module of its own, so that no declaration file of the public API refers to the generated
 * code (the package ships its JavaScript, not its types).
 */
export function certManagerImports(): typeof CertManager {
  return require('../../imports/cert-manager.io');
}
