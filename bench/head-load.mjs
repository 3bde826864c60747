// Closed-loop HTTP load generator: `concurrency` workers, each on its own keep-alive connection,
// send HEAD requests back to back until `durationMs` has passed, then finish the request in flight.
// Runs in its own process so that the parent's registry log handling does not share its event loop.
// Usage: node bench/head-load.mjs '{"url","caFile"?,"headers","concurrency","durationMs"}'
//        (an Authorization header, if any, comes in BENCH_AUTHORIZATION, not on the command line)
// Prints one JSON line: { requests, elapsedMs, rps, statuses }.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';

const REQUEST_TIMEOUT_MS = 30_000;

const { url, caFile, headers, concurrency, durationMs } = JSON.parse(process.argv[2]);
const target = new URL(url);
const transport = target.protocol === 'https:' ? https : http;
const agent = new transport.Agent({ keepAlive: true, maxSockets: concurrency, ...(caFile ? { ca: readFileSync(caFile) } : {}) });
const requestHeaders = { ...headers, ...(process.env.BENCH_AUTHORIZATION ? { Authorization: process.env.BENCH_AUTHORIZATION } : {}) };

function head() {
  return new Promise((resolve, reject) => {
    const request = transport.request(target, { method: 'HEAD', agent, headers: requestHeaders, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`HEAD ${url} timed out after ${REQUEST_TIMEOUT_MS} ms`)));
    request.on('error', reject);
    request.end();
  });
}

const statuses = {};
let requests = 0;
const start = performance.now();
const deadline = start + durationMs;
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (performance.now() < deadline) {
    const status = await head();
    statuses[status] = (statuses[status] ?? 0) + 1;
    requests++;
  }
}));
// The drain of the last requests is part of the window: completed requests over the whole time.
const elapsedMs = performance.now() - start;
agent.destroy();
console.log(JSON.stringify({ requests, elapsedMs, rps: requests / (elapsedMs / 1000), statuses }));
