// The parts of the CEL engine the `trusted-registry preflight` command uses. The package ships this
// module bundled with them (scripts/bundle-dependencies.js): the engine's packages are 10 MB with
// their test data and second (ESM) builds, the parts used about 300 kB.
export {
  celEnv, celError, celFunc, celList, celListConcat, celMethod, CelScalar, isCelError, isCelList, isCelMap, listType, parse, plan,
} from '@bufbuild/cel';
export type { CelList, CelResult, CelValue } from '@bufbuild/cel';
export { strings } from '@bufbuild/cel/ext';
export { RE2JS } from '@bufbuild/re2';
