// bcrypt for the htpasswd files, bundled into the package with this module (scripts/bundle-dependencies.js).
export { encodeBase64, hashSync } from 'bcryptjs';
