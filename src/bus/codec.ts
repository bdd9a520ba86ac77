/**
 * The bus's messages, one per channel message on the bus stream. Every
 * message starts with the same 10 bytes:
 *
 *   u8 version (1) · u8 type · 8 bytes target member id (zeros: everyone)
 *
 * so a member drops what is addressed to another after reading them. Numbers
 * are big-endian; `str8` is a u8 length and that many UTF-8 bytes; a request
 * or task `number` is a u48 the requester counts from 1 (with the requester's
 * member id, which is the message's source, it names the request in the group).
 * docs/bus.md, "Wire", is the reference; this file is the one encoder and decoder.
 */

export const BUS_VERSION = 1;
export const HEADER_BYTES = 10;
const ID_BYTES = 8;
const NO_TARGET = '0000000000000000';

export const enum MessageType {
  Announce = 1,
  Hello = 2,
  Request = 3,
  Gather = 4,
  Reply = 5,
  Offer = 6,
  Bid = 7,
  Award = 8,
  Refuse = 9,
  Renew = 10,
  Result = 11,
  Cancel = 12,
}

/** A reply's status: the handler's answer, its error, or why the server did not run it. */
export const enum ReplyStatus {
  Ok = 0,
  Error = 1,
  Overloaded = 2,
  NotServed = 3,
}

/** One attempt of one task: the submitter's task number and the attempt (1, 2, … for that task). */
export interface AttemptRef {
  number: number;
  attempt: number;
}

export interface AwardedTask extends AttemptRef {
  leaseMs: number;
  data: Buffer;
}

export type BusMessage =
  | { type: MessageType.Announce; name: string; version: number; subjects: string[]; queues: { queue: string; capacity: number }[] }
  | { type: MessageType.Hello; ids: string[] }
  | { type: MessageType.Request; target: string; number: number; attempt: number; subject: string; data: Buffer }
  | { type: MessageType.Gather; number: number; subject: string; data: Buffer }
  | { type: MessageType.Reply; target: string; number: number; gather: boolean; attempt: number; status: ReplyStatus; data: Buffer }
  | { type: MessageType.Offer; queue: string; pending: number }
  | { type: MessageType.Bid; target: string; queue: string; free: number }
  | { type: MessageType.Award; target: string; queue: string; bid: number; tasks: AwardedTask[] }
  | { type: MessageType.Refuse; target: string; attempts: AttemptRef[] }
  | { type: MessageType.Renew; target: string; attempts: AttemptRef[] }
  | { type: MessageType.Result; target: string; number: number; attempt: number; ok: boolean; queue: string; bid: number; data: Buffer }
  | { type: MessageType.Cancel; target: string; attempts: AttemptRef[] };

class Writer {
  private buf: Buffer;
  private at = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
  u8(v: number): this {
    this.room(1);
    this.buf[this.at++] = v;
    return this;
  }
  u16(v: number): this {
    this.room(2);
    this.buf.writeUInt16BE(v, this.at);
    this.at += 2;
    return this;
  }
  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32BE(v, this.at);
    this.at += 4;
    return this;
  }
  u48(v: number): this {
    this.room(6);
    this.buf.writeUIntBE(v, this.at, 6);
    this.at += 6;
    return this;
  }
  id(hex: string): this {
    this.room(ID_BYTES);
    this.at += this.buf.write(hex, this.at, ID_BYTES, 'hex');
    return this;
  }
  str8(s: string): this {
    const n = Buffer.byteLength(s);
    this.room(1 + n);
    this.buf[this.at++] = n;
    this.at += this.buf.write(s, this.at, n, 'utf8');
    return this;
  }
  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
    return this;
  }
  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

function header(type: MessageType, target: string | undefined, size: number): Writer {
  return new Writer(HEADER_BYTES + size).u8(BUS_VERSION).u8(type).id(target ?? NO_TARGET);
}

function refs(w: Writer, attempts: readonly AttemptRef[]): Buffer {
  w.u16(attempts.length);
  for (const a of attempts) w.u48(a.number).u16(a.attempt);
  return w.done();
}

/** The bytes of `m`. Strings must fit a str8 (≤ 255 UTF-8 bytes) and lists their counts; the API checks both before it gets here. */
export function encode(m: BusMessage): Buffer {
  switch (m.type) {
    case MessageType.Announce: {
      const w = header(m.type, undefined, 64).str8(m.name).u32(m.version).u16(m.subjects.length);
      for (const s of m.subjects) w.str8(s);
      w.u16(m.queues.length);
      for (const q of m.queues) w.str8(q.queue).u16(q.capacity);
      return w.done();
    }
    case MessageType.Hello: {
      const w = header(m.type, undefined, 2 + m.ids.length * ID_BYTES).u16(m.ids.length);
      for (const id of m.ids) w.id(id);
      return w.done();
    }
    case MessageType.Request:
      return header(m.type, m.target, 16 + m.subject.length + m.data.length).u48(m.number).u8(m.attempt).str8(m.subject).bytes(m.data).done();
    case MessageType.Gather:
      return header(m.type, undefined, 16 + m.subject.length + m.data.length).u48(m.number).str8(m.subject).bytes(m.data).done();
    case MessageType.Reply:
      return header(m.type, m.target, 9 + m.data.length).u48(m.number).u8(m.gather ? 1 : 0).u8(m.attempt).u8(m.status).bytes(m.data).done();
    case MessageType.Offer:
      return header(m.type, undefined, 8 + m.queue.length).str8(m.queue).u32(m.pending).done();
    case MessageType.Bid:
      return header(m.type, m.target, 8 + m.queue.length).str8(m.queue).u16(m.free).done();
    case MessageType.Award: {
      let size = 8 + m.queue.length;
      for (const t of m.tasks) size += 16 + t.data.length;
      const w = header(m.type, m.target, size).str8(m.queue).u16(m.bid).u16(m.tasks.length);
      for (const t of m.tasks) w.u48(t.number).u16(t.attempt).u32(t.leaseMs).u32(t.data.length).bytes(t.data);
      return w.done();
    }
    case MessageType.Refuse:
    case MessageType.Renew:
    case MessageType.Cancel:
      return refs(header(m.type, m.target, 2 + m.attempts.length * 8), m.attempts);
    case MessageType.Result:
      return header(m.type, m.target, 16 + m.queue.length + m.data.length)
        .u48(m.number).u16(m.attempt).u8(m.ok ? 1 : 0).str8(m.queue).u16(m.bid).bytes(m.data).done();
  }
}

class Reader {
  at = HEADER_BYTES;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new RangeError('truncated');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  u48(): number {
    this.need(6);
    const v = this.buf.readUIntBE(this.at, 6);
    this.at += 6;
    return v;
  }
  id(): string {
    this.need(ID_BYTES);
    const v = this.buf.toString('hex', this.at, this.at + ID_BYTES);
    this.at += ID_BYTES;
    return v;
  }
  str8(): string {
    const n = this.u8();
    this.need(n);
    const v = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  rest(): Buffer {
    const v = this.buf.subarray(this.at);
    this.at = this.buf.length;
    return v;
  }
  end(): void {
    if (this.at !== this.buf.length) throw new RangeError('trailing bytes');
  }
}

/** The message's target id (`undefined`: everyone), or `null` when `bytes` is not a bus message of this version. Reads only the header. */
export function targetOf(bytes: Buffer): string | undefined | null {
  if (bytes.length < HEADER_BYTES || bytes[0] !== BUS_VERSION) return null;
  const id = bytes.toString('hex', 2, HEADER_BYTES);
  return id === NO_TARGET ? undefined : id;
}

function refList(r: Reader): AttemptRef[] {
  const n = r.u16();
  const out: AttemptRef[] = [];
  for (let i = 0; i < n; i++) out.push({ number: r.u48(), attempt: r.u16() });
  return out;
}

/** The message in `bytes` (payloads are views into it), or `undefined` when it is malformed or of an unknown type. */
export function decode(bytes: Buffer): BusMessage | undefined {
  const target = targetOf(bytes);
  if (target === null) return undefined;
  const r = new Reader(bytes);
  try {
    const m = decodeBody(bytes[1]!, target ?? '', r);
    if (m !== undefined) r.end();
    return m;
  } catch {
    return undefined;
  }
}

function decodeBody(type: number, target: string, r: Reader): BusMessage | undefined {
  switch (type) {
    case MessageType.Announce: {
      const name = r.str8();
      const version = r.u32();
      const subjects: string[] = [];
      for (let n = r.u16(); n > 0; n--) subjects.push(r.str8());
      const queues: { queue: string; capacity: number }[] = [];
      for (let n = r.u16(); n > 0; n--) queues.push({ queue: r.str8(), capacity: r.u16() });
      return { type, name, version, subjects, queues };
    }
    case MessageType.Hello: {
      const ids: string[] = [];
      for (let n = r.u16(); n > 0; n--) ids.push(r.id());
      return { type, ids };
    }
    case MessageType.Request:
      return { type, target, number: r.u48(), attempt: r.u8(), subject: r.str8(), data: r.rest() };
    case MessageType.Gather:
      return { type, number: r.u48(), subject: r.str8(), data: r.rest() };
    case MessageType.Reply: {
      const number = r.u48();
      const gather = r.u8() === 1;
      const attempt = r.u8();
      const status = r.u8();
      if (status > ReplyStatus.NotServed) return undefined;
      return { type, target, number, gather, attempt, status, data: r.rest() };
    }
    case MessageType.Offer:
      return { type, queue: r.str8(), pending: r.u32() };
    case MessageType.Bid:
      return { type, target, queue: r.str8(), free: r.u16() };
    case MessageType.Award: {
      const queue = r.str8();
      const bid = r.u16();
      const tasks: AwardedTask[] = [];
      for (let n = r.u16(); n > 0; n--) {
        const number = r.u48();
        const attempt = r.u16();
        const leaseMs = r.u32();
        tasks.push({ number, attempt, leaseMs, data: r.bytes(r.u32()) });
      }
      return { type, target, queue, bid, tasks };
    }
    case MessageType.Refuse:
    case MessageType.Renew:
    case MessageType.Cancel:
      return { type, target, attempts: refList(r) };
    case MessageType.Result: {
      const number = r.u48();
      const attempt = r.u16();
      const ok = r.u8() === 1;
      return { type, target, number, attempt, ok, queue: r.str8(), bid: r.u16(), data: r.rest() };
    }
    default:
      return undefined;
  }
}
