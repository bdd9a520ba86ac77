/**
 * Writes test/vectors/header.json: hex datagrams with the expected decode
 * result, shared by the TypeScript tests and the native decoder's tests.
 * Run once when the wire format changes: `node dist/test/vectors/generate.js`.
 * The checked-in file is the reference; tests never regenerate it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32cUpdate } from '../../src/wire/crc32c';
import { encodeDatagram, Header } from '../../src/wire/header';

interface Vector {
  name: string;
  hex: string;
  /** 'ok' or a reject reason name. */
  expect: string;
  header?: Header & { session: string };
}

const vectors: Vector[] = [];
function ok(name: string, fields: Omit<Header, 'payloadLength'>, payload: Buffer): Buffer {
  const d = encodeDatagram(fields, payload);
  const session = fields.sessionHi.toString(16).padStart(8, '0') + fields.sessionLo.toString(16).padStart(8, '0');
  vectors.push({ name, hex: d.toString('hex'), expect: 'ok', header: { ...fields, payloadLength: payload.length, session } });
  return d;
}
function bad(name: string, d: Uint8Array, expect: string): void {
  vectors.push({ name, hex: Buffer.from(d).toString('hex'), expect });
}

const base = { type: 1, flags: 0, keyId: 0, streamId: 0, sessionHi: 0x01234567, sessionLo: 0x89abcdef, sequence: 0 };
const data = ok('data, empty payload', base, Buffer.alloc(0));
ok('data, text payload', { ...base, sequence: 1 }, Buffer.from('hello, multicast'));
ok('heartbeat, stream 7', { ...base, type: 2, streamId: 7, sequence: 42 }, Buffer.from('0000000000000001', 'hex'));
ok('nak, flags set', { ...base, type: 3, flags: 0x81, sequence: 0xdeadbeef }, Buffer.from([1, 2, 3]));
ok('max fields', { type: 6, flags: 0xff, keyId: 0xff, streamId: 0xffff, sessionHi: 0xffffffff, sessionLo: 0xffffffff, sequence: Number.MAX_SAFE_INTEGER }, Buffer.alloc(100, 0xaa));
ok('large payload', { ...base, sequence: 2 ** 40 + 5 }, Buffer.alloc(1400, 7));

bad('empty datagram', new Uint8Array(0), 'truncated');
bad('31 bytes', data.subarray(0, 31), 'truncated');
const badMagic = Buffer.from(data); badMagic[0] = 0xb2; bad('bad magic', badMagic, 'bad-magic');
const badVersion = Buffer.from(data); badVersion[2] = 2; bad('version 2', badVersion, 'bad-version');
const long = Buffer.concat([data, Buffer.from([0])]); bad('one byte more than the length field', long, 'bad-length');
const flipped = Buffer.from(data); flipped[9] ^= 1; bad('flipped bit in session id', flipped, 'bad-checksum');
const badCrc = Buffer.from(data); badCrc[31] ^= 0xff; bad('corrupted checksum', badCrc, 'bad-checksum');
const payloadFlip = encodeDatagram({ ...base, sequence: 9 }, Buffer.from('abc')); payloadFlip[33] ^= 0x20; bad('flipped bit in payload', payloadFlip, 'bad-checksum');
bad('type 0', encodeDatagram({ ...base, type: 0 }), 'unknown-type');
bad('type 200', encodeDatagram({ ...base, type: 200 }), 'unknown-type');
// A sequence number of 2^53 cannot be encoded by writeHeader's checks, so patch one and re-checksum.
const bigSeq = encodeDatagram({ ...base, sequence: 0 });
bigSeq.writeUInt32BE(0x200000, 16);
bad('sequence 2^53', reseal(bigSeq), 'bad-sequence');

function reseal(d: Buffer): Buffer {
  let crc = crc32cUpdate(0, d, 0, 28);
  crc = crc32cUpdate(crc, d, 32, d.length);
  d.writeUInt32BE(crc, 28);
  return d;
}

const out = join(__dirname, '..', '..', '..', 'test', 'vectors', 'header.json');
writeFileSync(out, JSON.stringify({ description: 'blipcast v1 header vectors: hex datagram and expected decode (see docs/protocol.md)', crc32cCheck: { input: '123456789', crc: 'e3069283' }, vectors }, null, 2) + '\n');
console.log(`wrote ${vectors.length} vectors to ${out}`);
