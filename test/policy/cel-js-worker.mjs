// Runs @marcbachmann/cel-js for admission-harness.ts. The package is ESM-only and Jest's CommonJS
// module loader cannot require it, so it lives in a worker thread where Node loads it natively.
// The harness blocks on `signal` (Atomics.wait) until the reply has been posted on `port`, which
// keeps the harness synchronous. Evaluated variables stay here as native cel-js values; only
// plain, comparable copies cross back.
import { workerData } from 'node:worker_threads';
import { Environment } from '@marcbachmann/cel-js';

const signal = new Int32Array(workerData.signal);
const port = workerData.port;
// Admission variables (object, oldObject, request, ...) are untyped JSON, like `dyn` in the API server.
const environment = new Environment({ unlistedVariablesAreDyn: true });

let activation = {};
let variables = {};

/** Converts a cel-js value to plain JSON-like data: integers become numbers, Maps become objects. */
function toPlain(value) {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(toPlain);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toPlain(v)]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  }
  return value;
}

function evaluate(expression) {
  try {
    return { ok: true, native: environment.evaluate(expression, { ...activation, variables }) };
  } catch (error) {
    return { ok: false, error: String(error.message).split('\n')[0] };
  }
}

function handle(message) {
  switch (message.op) {
    case 'start':
      activation = message.activation;
      variables = {};
      return { ok: true, value: null };
    case 'variable': {
      const outcome = evaluate(message.expression);
      // An errored variable stays unbound, so only expressions that read it fail (lazy, as in the API server).
      if (outcome.ok) variables[message.name] = outcome.native;
      return outcome.ok ? { ok: true, value: toPlain(outcome.native) } : outcome;
    }
    case 'evaluate': {
      const outcome = evaluate(message.expression);
      return outcome.ok ? { ok: true, value: toPlain(outcome.native) } : outcome;
    }
    default:
      return { ok: false, error: `unknown op ${message.op}` };
  }
}

port.on('message', (message) => {
  port.postMessage(handle(message));
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});
