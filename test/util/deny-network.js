// Preloaded with NODE_OPTIONS="--require <this file>" into a process and, through the inherited
// environment, into every Node process it starts: each TCP connection or DNS lookup is recorded
// in $DENY_NETWORK_LOG and fails as on a machine without a network. Local IPC (Unix sockets,
// pipes) still works.
const dns = require('dns');
const fs = require('fs');
const net = require('net');

const log = process.env.DENY_NETWORK_LOG;

function record(what) {
  fs.appendFileSync(log, `${process.pid} ${process.argv.slice(1).join(' ')}: ${what}\n`);
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function denyConnect(...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options = typeof first === 'object' && first !== null ? first : { port: first, host: args[1] };
  if (options.path !== undefined) {
    return connect.apply(this, args);
  }
  record(`connect ${options.host ?? 'localhost'}:${options.port}`);
  process.nextTick(() => this.destroy(Object.assign(new Error('connect ENETUNREACH (network denied by test)'), { code: 'ENETUNREACH' })));
  return this;
};

function denyLookup(hostname, ...rest) {
  record(`dns ${hostname}`);
  const callback = rest[rest.length - 1];
  process.nextTick(() => callback(Object.assign(new Error(`getaddrinfo EAI_AGAIN ${hostname}`), { code: 'EAI_AGAIN' })));
}
dns.lookup = denyLookup;
dns.promises.lookup = async (hostname) => {
  record(`dns ${hostname}`);
  throw Object.assign(new Error(`getaddrinfo EAI_AGAIN ${hostname}`), { code: 'EAI_AGAIN' });
};
