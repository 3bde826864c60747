import { celEnv, celFunc, celList, CelList, celListConcat, celMethod, CelScalar, isCelError, listType, parse, plan, strings } from '../bundled/cel';

/**
 * The Kubernetes CEL runtime cost limit, for @bufbuild/cel: the API server stops an expression
 * (or variable) whose cost passes PER_CALL_COST_LIMIT and the policy then fails closed, so an
 * evaluator that does not meter cost admits objects the server refuses (thousands of
 * containers, images of hundreds of thousands of characters). Shared by the preflight evaluator
 * and the test harness (test/policy/admission-harness.ts), which test/kube checks against a real
 * API server.
 */

/** The most one expression (or variable) may cost at run time: k8s.io/apiserver/pkg/apis/cel PerCallLimit. */
export const PER_CALL_COST_LIMIT = 1_000_000;
/** cel-go's message when an evaluation's runtime cost passes its limit. */
export const COST_LIMIT_ERROR = 'operation cancelled: actual cost limit exceeded';
/** cel-go's cost factors (common/cost.go): per character traversed, and per character of a regular expression. */
const STRING_TRAVERSAL_COST_FACTOR = 0.1;
const REGEX_STRING_LENGTH_COST_FACTOR = 0.25;

/**
 * The part of cel-go's runtime cost (interpreter/runtimecost.go) that grows with the data: string
 * functions cost by the characters they traverse, `matches` by string length times pattern
 * length. Steps (each select, call, list element) cost about one each in cel-go and are not
 * counted, so this is a lower bound: an evaluation fails for cost only when the real server's
 * does, and agrees with it away from the limit (measured on 1.33.13: the server's limit is 2,584
 * containers of 103-character images, the meter's 2,598).
 */
export class CostMeter {
  /** Cost of the evaluation in progress; set to 0 before each expression. */
  public cost = 0;

  /** Whether the evaluation in progress passed the per-call limit. */
  public get exceeded(): boolean {
    return this.cost > PER_CALL_COST_LIMIT;
  }

  public traverse(...texts: string[]): void {
    this.cost += Math.ceil(texts.reduce((sum, text) => sum + size(text), 0) * STRING_TRAVERSAL_COST_FACTOR);
  }

  public match(text: string, pattern: string): void {
    this.cost += Math.ceil((1 + size(text)) * STRING_TRAVERSAL_COST_FACTOR) * Math.ceil(size(pattern) * REGEX_STRING_LENGTH_COST_FACTOR);
  }

  public contain(text: string, substring: string): void {
    this.cost += Math.ceil(size(text) * STRING_TRAVERSAL_COST_FACTOR) * Math.ceil(size(substring) * STRING_TRAVERSAL_COST_FACTOR);
  }
}

/** A CEL string's size: its code points (UTF-16 length counts some twice). */
function size(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** What `celEnv` takes as its `re2` option. */
type Re2 = NonNullable<Parameters<typeof celEnv>[0]>['re2'];

/**
 * The Kubernetes CEL environment (std functions and the cel-go strings extension) with the string
 * functions adding their cost to `meter`, and list `+` flattening every MAX_CONCAT_DEPTH nested
 * views (the std one nests a view per call, which macros over thousands of elements turn into a
 * recursion deeper than the stack: "Maximum call stack size exceeded").
 * @param re2 the regular expression engine `matches` uses (e.g. one that caches compiled patterns)
 */
export function meteredCelEnv(meter: CostMeter, re2?: Re2): ReturnType<typeof celEnv> {
  const { STRING, BOOL, DYN } = CelScalar;
  const LIST = listType(DYN);
  const matches = plan(celEnv({ funcs: strings, re2 }), parse('text.matches(pattern)'));
  const metered = [
    celMethod('matches', STRING, [STRING], BOOL, function (pattern) {
      meter.match(this, pattern);
      const result = matches({ text: this, pattern });
      if (isCelError(result)) throw new Error(result.message);
      return result as boolean;
    }),
    celMethod('startsWith', STRING, [STRING], BOOL, function (prefix) {
      meter.traverse(this);
      return this.startsWith(prefix);
    }),
    celMethod('endsWith', STRING, [STRING], BOOL, function (suffix) {
      meter.traverse(this);
      return this.endsWith(suffix);
    }),
    celMethod('contains', STRING, [STRING], BOOL, function (substring) {
      meter.contain(this, substring);
      return this.includes(substring);
    }),
    celFunc('_+_', [STRING, STRING], STRING, (left, right) => {
      meter.traverse(left, right);
      return left + right;
    }),
    celFunc('_+_', [LIST, LIST], LIST, (left: CelList, right: CelList) => {
      const depth = Math.max(concatDepth.get(left) ?? 0, concatDepth.get(right) ?? 0) + 1;
      if (depth < MAX_CONCAT_DEPTH) {
        const joined = celListConcat(left, right);
        concatDepth.set(joined, depth);
        return joined;
      }
      return celList([...left, ...right]);
    }),
  ];
  // Not `re2` here: celEnv would register its own `matches` after `funcs`, replacing the metered one.
  return celEnv({ funcs: [...strings, ...metered] });
}

/** Nesting of std list concatenations (views over views); flattened when deep, so iterating stays shallow and appends cheap. */
const concatDepth = new WeakMap<CelList, number>();
const MAX_CONCAT_DEPTH = 256;
