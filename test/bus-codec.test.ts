/**
 * The bus's wire (src/bus/codec.ts): every message type decodes to what was
 * encoded, the header layout byte by byte, and bytes that are not a message
 * of this version — cut short, extended, of an unknown type or version,
 * random — decode to undefined without throwing.
 */

import test from 'ava';
import fc from 'fast-check';
import { BUS_VERSION, decode, encode, HEADER_BYTES, MessageType, ReplyStatus, targetOf, type BusMessage } from '../src/bus/codec';

const A = '0123456789abcdef';
const B = 'fedcba9876543210';
const data = (s: string): Buffer => Buffer.from(s, 'utf8');

/** One message of every type, with every field away from zero. */
const EXAMPLES: BusMessage[] = [
  { type: MessageType.Announce, name: 'host-a:42', version: 7, subjects: ['echo', 'sum', 'ünïcode'], queues: [{ queue: 'resize', capacity: 4 }, { queue: 'q2', capacity: 65535 }] },
  { type: MessageType.Hello, ids: [A, B] },
  { type: MessageType.Request, target: B, number: 2 ** 40 + 3, attempt: 2, subject: 'echo', data: data('ping') },
  { type: MessageType.Gather, number: 9, subject: 'stats', data: data('all of you') },
  { type: MessageType.Reply, target: A, number: 9, gather: true, attempt: 1, status: ReplyStatus.Ok, data: data('pong') },
  { type: MessageType.Reply, target: A, number: 10, gather: false, attempt: 3, status: ReplyStatus.Error, data: data('boom') },
  { type: MessageType.Reply, target: A, number: 11, gather: false, attempt: 1, status: ReplyStatus.Overloaded, data: Buffer.alloc(0) },
  { type: MessageType.Reply, target: A, number: 12, gather: false, attempt: 1, status: ReplyStatus.NotServed, data: Buffer.alloc(0) },
  { type: MessageType.Offer, queue: 'resize', pending: 123456 },
  { type: MessageType.Bid, target: B, queue: 'resize', free: 3 },
  {
    type: MessageType.Award, target: B, queue: 'resize', bid: 3,
    tasks: [{ number: 1, attempt: 1, leaseMs: 10_000, data: data('t1') }, { number: 2 ** 47, attempt: 65535, leaseMs: 0xffffffff, data: Buffer.alloc(0) }],
  },
  { type: MessageType.Refuse, target: A, attempts: [{ number: 5, attempt: 2 }] },
  { type: MessageType.Renew, target: A, attempts: [{ number: 5, attempt: 2 }, { number: 6, attempt: 1 }] },
  { type: MessageType.Result, target: A, number: 5, attempt: 2, ok: true, queue: 'resize', bid: 1, data: data('done') },
  { type: MessageType.Result, target: A, number: 6, attempt: 1, ok: false, queue: 'resize', bid: 0, data: data('it threw') },
  { type: MessageType.Cancel, target: B, attempts: [{ number: 5, attempt: 2 }] },
];

/** Types whose last field runs to the end of the message: extra bytes are payload, not an error. */
const OPEN_ENDED = new Set([MessageType.Request, MessageType.Gather, MessageType.Reply, MessageType.Result]);

/** Bytes of the last fixed field's end (everything after it is payload) for the open-ended types. */
function fixedBytes(m: BusMessage): number {
  switch (m.type) {
    case MessageType.Request: return HEADER_BYTES + 6 + 1 + 1 + Buffer.byteLength(m.subject);
    case MessageType.Gather: return HEADER_BYTES + 6 + 1 + Buffer.byteLength(m.subject);
    case MessageType.Reply: return HEADER_BYTES + 6 + 1 + 1 + 1;
    case MessageType.Result: return HEADER_BYTES + 6 + 2 + 1 + 1 + Buffer.byteLength(m.queue) + 2;
    default: return encode(m).length;
  }
}

test('every message type decodes to what was encoded', (t) => {
  const types = new Set<MessageType>();
  for (const m of EXAMPLES) {
    types.add(m.type);
    t.deepEqual(decode(encode(m)), m, `type ${m.type}`);
  }
  t.is(types.size, 12);
});

test('the header is the version, the type and the target id; zeros address everyone', (t) => {
  t.is(encode({ type: MessageType.Offer, queue: 'q', pending: 2 }).toString('hex'), '0106' + '0000000000000000' + '0171' + '00000002');
  t.is(encode({ type: MessageType.Bid, target: B, queue: 'q', free: 1 }).toString('hex'), '0107' + B + '0171' + '0001');
  t.is(
    encode({ type: MessageType.Request, target: A, number: 258, attempt: 1, subject: 'e', data: data('x') }).toString('hex'),
    '0103' + A + '000000000102' + '01' + '0165' + '78',
  );
  t.is(
    encode({ type: MessageType.Renew, target: A, attempts: [{ number: 1, attempt: 2 }] }).toString('hex'),
    '010a' + A + '0001' + '000000000001' + '0002',
  );
  t.is(targetOf(encode(EXAMPLES[0]!)), undefined);
  t.is(targetOf(encode(EXAMPLES[2]!)), B);
});

test('a message cut short anywhere in its fixed fields decodes to undefined', (t) => {
  for (const m of EXAMPLES) {
    const bytes = encode(m);
    const end = OPEN_ENDED.has(m.type) ? fixedBytes(m) : bytes.length;
    for (let n = 0; n < end; n++) t.is(decode(Buffer.from(bytes.subarray(0, n))), undefined, `type ${m.type} cut to ${n} bytes`);
  }
});

test('a closed message with a trailing byte decodes to undefined; an open-ended one takes it as payload', (t) => {
  for (const m of EXAMPLES) {
    const bytes = Buffer.concat([encode(m), Buffer.from([0x5a])]);
    if (OPEN_ENDED.has(m.type)) {
      const d = decode(bytes) as { data: Buffer } | undefined;
      t.deepEqual(d?.data, Buffer.concat([(m as { data: Buffer }).data, Buffer.from([0x5a])]), `type ${m.type}`);
    } else {
      t.is(decode(bytes), undefined, `type ${m.type}`);
    }
  }
});

test('an unknown type, another version or a reply status beyond NotServed decodes to undefined', (t) => {
  const offer = encode({ type: MessageType.Offer, queue: 'q', pending: 1 });
  for (const type of [0, 13, 100, 255]) {
    const b = Buffer.from(offer);
    b[1] = type;
    t.is(decode(b), undefined, `type ${type}`);
  }
  for (const version of [0, BUS_VERSION + 1, 255]) {
    for (const m of EXAMPLES) {
      const b = Buffer.from(encode(m));
      b[0] = version;
      t.is(decode(b), undefined, `version ${version}, type ${m.type}`);
      t.is(targetOf(b), null);
    }
  }
  const reply = Buffer.from(encode(EXAMPLES[4]!));
  reply[HEADER_BYTES + 8] = ReplyStatus.NotServed + 1;
  t.is(decode(reply), undefined);
  t.is(targetOf(Buffer.alloc(HEADER_BYTES - 1, 1)), null);
});

test('a list count larger than what follows decodes to undefined', (t) => {
  const renew = Buffer.from(encode({ type: MessageType.Renew, target: A, attempts: [{ number: 1, attempt: 1 }] }));
  renew.writeUInt16BE(2, HEADER_BYTES);
  t.is(decode(renew), undefined);
  const award = Buffer.from(encode(EXAMPLES[10]!));
  // The first task's data length (after queue, bid, count, number, attempt, lease) beyond the message.
  award.writeUInt32BE(0xffffffff, HEADER_BYTES + 1 + 6 + 2 + 2 + 6 + 2 + 4);
  t.is(decode(award), undefined);
});

// ---- properties ----

const idArb = fc.stringMatching(/^[0-9a-f]{16}$/).filter((s) => s !== '0000000000000000');
const nameArb = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= 255);
const bytesArb = fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u));
const u16 = fc.integer({ min: 0, max: 0xffff });
const u48 = fc.integer({ min: 0, max: 2 ** 48 - 1 });
const refArb = fc.record({ number: u48, attempt: u16 });

const messageArb: fc.Arbitrary<BusMessage> = fc.oneof(
  fc.record({
    type: fc.constant(MessageType.Announce), name: nameArb, version: fc.integer({ min: 0, max: 0xffffffff }),
    subjects: fc.array(nameArb, { maxLength: 5 }), queues: fc.array(fc.record({ queue: nameArb, capacity: u16 }), { maxLength: 5 }),
  }),
  fc.record({ type: fc.constant(MessageType.Hello), ids: fc.array(idArb, { maxLength: 8 }) }),
  fc.record({ type: fc.constant(MessageType.Request), target: idArb, number: u48, attempt: fc.integer({ min: 0, max: 255 }), subject: nameArb, data: bytesArb }),
  fc.record({ type: fc.constant(MessageType.Gather), number: u48, subject: nameArb, data: bytesArb }),
  fc.record({
    type: fc.constant(MessageType.Reply), target: idArb, number: u48, gather: fc.boolean(), attempt: fc.integer({ min: 0, max: 255 }),
    status: fc.constantFrom(ReplyStatus.Ok, ReplyStatus.Error, ReplyStatus.Overloaded, ReplyStatus.NotServed), data: bytesArb,
  }),
  fc.record({ type: fc.constant(MessageType.Offer), queue: nameArb, pending: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ type: fc.constant(MessageType.Bid), target: idArb, queue: nameArb, free: u16 }),
  fc.record({
    type: fc.constant(MessageType.Award), target: idArb, queue: nameArb, bid: u16,
    tasks: fc.array(fc.record({ number: u48, attempt: u16, leaseMs: fc.integer({ min: 0, max: 0xffffffff }), data: bytesArb }), { maxLength: 4 }),
  }),
  fc.record({ type: fc.constantFrom(MessageType.Refuse, MessageType.Renew, MessageType.Cancel), target: idArb, attempts: fc.array(refArb, { maxLength: 6 }) }),
  fc.record({ type: fc.constant(MessageType.Result), target: idArb, number: u48, attempt: u16, ok: fc.boolean(), queue: nameArb, bid: u16, data: bytesArb }),
) as fc.Arbitrary<BusMessage>;

test('property: any message decodes to what was encoded', (t) => {
  fc.assert(fc.property(messageArb, (m) => {
    t.deepEqual(decode(encode(m)), m);
  }), { seed: 1313, numRuns: 2000 });
  t.pass();
});

test('property: any message cut short or with one byte changed decodes to a message of its type or undefined, never throws', (t) => {
  fc.assert(fc.property(messageArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (m, at, value) => {
    const bytes = encode(m);
    const cut = Buffer.from(bytes.subarray(0, at % (bytes.length + 1)));
    const flipped = Buffer.from(bytes);
    flipped[at % bytes.length] = value;
    for (const b of [cut, flipped]) {
      const d = decode(b);
      if (d !== undefined) t.is(d.type, b[1]);
    }
  }), { seed: 1314, numRuns: 2000 });
  t.pass();
});

test('property: random bytes decode to undefined or a message, never throw', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (u) => {
    const b = Buffer.from(u);
    targetOf(b);
    decode(b);
    if (b.length > 1) {
      b[0] = BUS_VERSION;
      b[1] = (b[1]! % 12) + 1; // a known type, random body
      decode(b);
    }
  }), { seed: 1315, numRuns: 5000 });
  t.pass();
});
