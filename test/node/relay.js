// A TCP/Unix-socket relay the node tier runs in place of kube-proxy: it carries connections from
// an address in the node's network namespace to a target, byte for byte (TLS passes through
// untouched, so the client still verifies the server it reaches).
//
//   node relay.js LISTEN TARGET [LISTEN TARGET ...]
//
// LISTEN: tcp:<ip>:<port> or unix:<path>. TARGET: the same, or file:<path> holding
// `tcp:<ip>:<port>`, read at each connection (the suite rewrites it when a Service's endpoint
// changes). Prints `ready` once every LISTEN is bound.
'use strict';
const fs = require('fs');
const net = require('net');

function parse(spec) {
  if (spec.startsWith('unix:')) return { path: spec.slice(5) };
  const match = /^tcp:(.+):(\d+)$/.exec(spec);
  if (!match) throw new Error(`not tcp:<ip>:<port> or unix:<path>: ${spec}`);
  return { host: match[1], port: Number(match[2]) };
}

function target(spec) {
  return spec.startsWith('file:') ? parse(fs.readFileSync(spec.slice(5), 'utf-8').trim()) : parse(spec);
}

const args = process.argv.slice(2);
if (args.length === 0 || args.length % 2 !== 0) {
  console.error('usage: node relay.js LISTEN TARGET [LISTEN TARGET ...]');
  process.exit(2);
}
let pending = args.length / 2;
for (let i = 0; i < args.length; i += 2) {
  const listen = parse(args[i]);
  const targetSpec = args[i + 1];
  const server = net.createServer((client) => {
    let upstream;
    try {
      upstream = net.connect(target(targetSpec));
    } catch (error) {
      console.error(`${args[i]} -> ${targetSpec}: ${error.message}`);
      client.destroy();
      return;
    }
    client.pipe(upstream).pipe(client);
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on('error', close);
    upstream.on('error', (error) => { console.error(`${args[i]} -> ${targetSpec}: ${error.message}`); close(); });
  });
  server.on('error', (error) => { console.error(`${args[i]}: ${error.message}`); process.exit(1); });
  if (listen.path) {
    try { fs.unlinkSync(listen.path); } catch { /* not there */ }
  }
  server.listen(listen, () => {
    pending -= 1;
    if (pending === 0) console.log('ready');
  });
}
