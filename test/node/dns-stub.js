// A DNS server the node tier runs in place of cluster DNS (CoreDNS): it answers A queries for the
// names in a JSON file ({"<name>": "<IPv4>"}, read at each query; the suite writes the Services it
// publishes) and NXDOMAIN for every other name. Nothing is forwarded anywhere.
//
//   node dns-stub.js <ip> <port> <names.json>
//
// Prints `ready` once bound.
'use strict';
const dgram = require('dgram');
const fs = require('fs');

const [ip, port, namesFile] = process.argv.slice(2);
if (!namesFile) {
  console.error('usage: node dns-stub.js <ip> <port> <names.json>');
  process.exit(2);
}

const TYPE_A = 1;
const CLASS_IN = 1;

function names() {
  try {
    return JSON.parse(fs.readFileSync(namesFile, 'utf-8'));
  } catch {
    return {};
  }
}

/** The question's name, type and the offset just past it, or undefined for a malformed query. */
function question(query) {
  const labels = [];
  let offset = 12;
  while (offset < query.length) {
    const length = query[offset];
    if (length === 0) {
      offset += 1;
      if (offset + 4 > query.length) return undefined;
      return { name: labels.join('.').toLowerCase(), type: query.readUInt16BE(offset), end: offset + 4 };
    }
    if (length > 63) return undefined; // compression pointers never appear in a question
    labels.push(query.toString('latin1', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  return undefined;
}

const socket = dgram.createSocket('udp4');
socket.on('message', (query, peer) => {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return;
  const q = question(query);
  if (!q) return;
  const known = names();
  const name = q.name.replace(/\.$/, '');
  const address = known[name];
  const answers = address && q.type === TYPE_A ? [address] : [];
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  // QR, opcode 0, AA, RD copied from the query, RA; RCODE 3 (NXDOMAIN) for names we do not know.
  header.writeUInt16BE(0x8480 | (query[2] & 0x01) << 8 | (address ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const records = answers.map((a) => {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // the question's name
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(5, 6); // TTL: seconds, so a changed ClusterIP shows quickly
    record.writeUInt16BE(4, 10);
    a.split('.').forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
    return record;
  });
  socket.send(Buffer.concat([header, query.subarray(12, q.end), ...records]), peer.port, peer.address);
});
socket.on('error', (error) => {
  console.error(error.message);
  process.exit(1);
});
socket.bind(Number(port), ip, () => console.log('ready'));
