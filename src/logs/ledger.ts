/**
 * The collectors' tamper-evident ledger (docs/logging.md, "The ledger"),
 * sans-IO: records, losses and ends go in; block heads to announce, and
 * divergences found against a peer's heads, come out. No clock, no socket,
 * no file.
 *
 * Scheme. Each (source session, stream) is cut into blocks of `blockSeqs`
 * sequence numbers: block b holds the records whose seq is in
 * [b·blockSeqs, (b+1)·blockSeqs). A block's chain starts from a head that
 * depends only on (session, stream, b) and takes each record in seq order:
 *
 *   head₀ = sha256("blipcast-ledger-1" 0 session 0 stream 0 u64 b)
 *   headᵢ = sha256(headᵢ₋₁ ‖ u64 seq ‖ u32 length ‖ record bytes)
 *
 * so two collectors that received a block whole compute the same head
 * whenever they started, and a collector that missed the start of a block
 * (joined or restarted in its middle) or lost part of it simply holds no
 * head for it. A block is whole here when this collector's first delivery of
 * the source was at or before the block's first seq, no loss touched it, and
 * it is closed: a record of a later block arrived, or the source ended with
 * nothing missing (`end()`: its last block is then closed as is).
 */

import { createHash } from 'node:crypto';

/** Sequence numbers per block: at 10 k records/s a block closes every ~0.1 s; a head costs ~60 bytes on the control stream. */
export const DEFAULT_LEDGER_BLOCK_SEQS = 1024;
/** Closed blocks kept per source to answer peers' heads that arrive late (at the default, the last ~1 M records). */
export const DEFAULT_LEDGER_KEEP_BLOCKS = 1024;
/** Peer heads kept waiting for blocks this collector has not closed yet, over all sources. */
export const DEFAULT_LEDGER_MAX_PENDING = 65536;

/** Ended sources whose closed blocks are kept for peers' late heads. */
export const DEFAULT_LEDGER_MAX_ENDED = 1024;

/** One closed, whole block as this collector holds it. */
export interface BlockHead {
  session: string;
  stream: string;
  block: number;
  /** Records in the block (≥ 1: empty blocks are neither announced nor compared). */
  count: number;
  lastSeq: number;
  /** sha256 chain head, 64 hex digits. */
  head: string;
}

/** Two views of one block that differ. */
export interface Divergence {
  session: string;
  stream: string;
  block: number;
  fromSeq: number;
  toSeq: number;
  mine: BlockHead;
  theirs: BlockHead;
  /** The peer collector's id (its session id). */
  peer: string;
}

export interface LedgerOptions {
  blockSeqs?: number;
  keepBlocks?: number;
  maxPending?: number;
  maxEnded?: number;
}

interface Chain {
  block: number;
  /** The current block holds every record since its first seq (no late start, no loss). */
  whole: boolean;
  head: Buffer;
  count: number;
  lastSeq: number;
  /** Closed whole blocks, oldest first (Map keeps insertion order). */
  closed: Map<number, BlockHead>;
  /** The source ended: nothing more is chained, closed blocks stay comparable. */
  ended: boolean;
}

const SEP = Buffer.from([0]);

function initialHead(session: string, stream: string, block: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(block));
  return createHash('sha256').update('blipcast-ledger-1').update(SEP).update(session).update(SEP).update(stream).update(SEP).update(b).digest();
}

/** headᵢ = sha256(headᵢ₋₁ ‖ u64 seq ‖ u32 length ‖ bytes). */
export function chainStep(head: Uint8Array, seq: number, bytes: Uint8Array): Buffer {
  const fields = Buffer.alloc(12);
  fields.writeBigUInt64BE(BigInt(seq), 0);
  fields.writeUInt32BE(bytes.length, 8);
  return createHash('sha256').update(head).update(fields).update(bytes).digest();
}

/** The head of a block holding exactly `records` (seq order), as any collector that received them computes it. */
export function blockHead(session: string, stream: string, block: number, records: readonly { seq: number; bytes: Uint8Array }[]): string {
  let head = initialHead(session, stream, block);
  for (const r of records) head = chainStep(head, r.seq, r.bytes);
  return head.toString('hex');
}

const key = (session: string, stream: string): string => `${session}/${stream}`;

export class Ledger {
  readonly blockSeqs: number;
  private readonly keepBlocks: number;
  private readonly maxPending: number;
  private readonly chains = new Map<string, Chain>();
  private readonly ended: string[] = [];
  private readonly maxEnded: number;
  private outbox: BlockHead[] = [];
  /** Peers' heads for blocks not closed here yet: key/block → peer → head. */
  private readonly pending = new Map<string, Map<string, BlockHead>>();
  private pendingCount = 0;
  /** (source, block, peer) already reported, so that a head repeated by a peer is one divergence. */
  private readonly reported = new Set<string>();
  private divergences: Divergence[] = [];

  constructor(options: LedgerOptions = {}) {
    this.blockSeqs = options.blockSeqs ?? DEFAULT_LEDGER_BLOCK_SEQS;
    this.keepBlocks = options.keepBlocks ?? DEFAULT_LEDGER_KEEP_BLOCKS;
    this.maxPending = options.maxPending ?? DEFAULT_LEDGER_MAX_PENDING;
    this.maxEnded = options.maxEnded ?? DEFAULT_LEDGER_MAX_ENDED;
    if (!Number.isInteger(this.blockSeqs) || this.blockSeqs < 1) throw new RangeError(`blockSeqs must be an integer ≥ 1, got ${this.blockSeqs}`);
  }

  /** A record delivered in order (seq increasing per source stream, as the channel delivers). */
  record(session: string, stream: string, seq: number, bytes: Uint8Array): void {
    const chain = this.advance(session, stream, seq);
    if (chain.ended) return;
    chain.head = chainStep(chain.head, seq, bytes);
    chain.count++;
    chain.lastSeq = seq;
  }

  /** Records `fromSeq..toSeq` will never arrive: every block they touch is not whole here. */
  loss(session: string, stream: string, fromSeq: number, toSeq: number): void {
    this.advance(session, stream, fromSeq).whole = false;
    this.advance(session, stream, toSeq).whole = false;
  }

  /** The source ended with nothing missing (source-gone 'closed'): its last block closes as it is. */
  end(session: string, stream: string): void {
    const chain = this.chains.get(key(session, stream));
    if (chain === undefined || chain.ended) return;
    this.close(session, stream, chain);
    this.retire(key(session, stream), chain);
  }

  /** The source went away with its last block unknown (timeout, restart): that block is not whole. */
  forget(session: string, stream: string): void {
    const chain = this.chains.get(key(session, stream));
    if (chain === undefined || chain.ended) return;
    chain.whole = false;
    this.close(session, stream, chain);
    this.retire(key(session, stream), chain);
  }

  /** An ended chain keeps its closed blocks for peers' late heads; the oldest ended ones go beyond `maxEnded`. */
  private retire(k: string, chain: Chain): void {
    chain.ended = true;
    chain.block = Number.MAX_SAFE_INTEGER;
    this.ended.push(k);
    while (this.ended.length > this.maxEnded) this.chains.delete(this.ended.shift()!);
  }

  /** The head of the last block of `session`'s stream closed here (whole), if any. */
  lastHead(session: string, stream: string): BlockHead | undefined {
    const closed = this.chains.get(key(session, stream))?.closed;
    let last: BlockHead | undefined;
    if (closed !== undefined) for (const h of closed.values()) if (last === undefined || h.block > last.block) last = h;
    return last;
  }

  /** Heads closed since the last call, to announce to the other collectors. */
  pollHeads(): BlockHead[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  /** Divergences found since the last call. */
  pollDivergences(): Divergence[] {
    const out = this.divergences;
    this.divergences = [];
    return out;
  }

  /** A peer collector's heads: compared with blocks closed here, or kept until they close. */
  handlePeerHeads(peer: string, heads: readonly BlockHead[]): void {
    for (const theirs of heads) {
      const k = key(theirs.session, theirs.stream);
      const chain = this.chains.get(k);
      const mine = chain?.closed.get(theirs.block);
      if (mine !== undefined) {
        this.compare(peer, mine, theirs);
      } else if (chain === undefined || theirs.block >= chain.block) {
        this.keepPending(k, peer, theirs);
      }
      // else: a block that closed here without being whole, or was forgotten: nothing to compare.
    }
  }

  private advance(session: string, stream: string, seq: number): Chain {
    const k = key(session, stream);
    const block = Math.floor(seq / this.blockSeqs);
    let chain = this.chains.get(k);
    if (chain === undefined) {
      // A first delivery in the middle of a block: this collector cannot know what came before it there.
      chain = { block, whole: seq % this.blockSeqs === 0, head: initialHead(session, stream, block), count: 0, lastSeq: -1, closed: new Map(), ended: false };
      this.chains.set(k, chain);
      return chain;
    }
    if (block > chain.block && !chain.ended) {
      this.close(session, stream, chain);
      chain.block = block;
      chain.whole = true;
      chain.head = initialHead(session, stream, block);
      chain.count = 0;
      chain.lastSeq = -1;
    }
    return chain;
  }

  private close(session: string, stream: string, chain: Chain): void {
    const k = key(session, stream);
    const pendingKey = `${k}/${chain.block}`;
    const waiting = this.pending.get(pendingKey);
    if (waiting !== undefined) {
      this.pending.delete(pendingKey);
      this.pendingCount -= waiting.size;
    }
    if (!chain.whole || chain.count === 0) return;
    const mine: BlockHead = { session, stream, block: chain.block, count: chain.count, lastSeq: chain.lastSeq, head: chain.head.toString('hex') };
    chain.closed.set(chain.block, mine);
    if (chain.closed.size > this.keepBlocks) chain.closed.delete(chain.closed.keys().next().value!);
    this.outbox.push(mine);
    if (waiting !== undefined) for (const [peer, theirs] of waiting) this.compare(peer, mine, theirs);
  }

  private keepPending(k: string, peer: string, theirs: BlockHead): void {
    const pendingKey = `${k}/${theirs.block}`;
    let byPeer = this.pending.get(pendingKey);
    if (byPeer === undefined) {
      byPeer = new Map();
      this.pending.set(pendingKey, byPeer);
    }
    if (!byPeer.has(peer)) this.pendingCount++;
    byPeer.set(peer, theirs);
    while (this.pendingCount > this.maxPending) {
      const [oldestKey, oldest] = this.pending.entries().next().value!;
      this.pending.delete(oldestKey);
      this.pendingCount -= oldest.size;
    }
  }

  private compare(peer: string, mine: BlockHead, theirs: BlockHead): void {
    if (mine.head === theirs.head && mine.count === theirs.count && mine.lastSeq === theirs.lastSeq) return;
    const id = `${mine.session}/${mine.stream}/${mine.block}/${peer}`;
    if (this.reported.has(id)) return;
    this.reported.add(id);
    if (this.reported.size > this.maxPending) this.reported.delete(this.reported.values().next().value!);
    const fromSeq = mine.block * this.blockSeqs;
    this.divergences.push({ session: mine.session, stream: mine.stream, block: mine.block, fromSeq, toSeq: fromSeq + this.blockSeqs - 1, mine, theirs, peer });
  }
}

/** What a collector multicasts on the ledger stream: `{ v: 1, blockSeqs, heads: [[session, stream, block, count, lastSeq, head], …] }`. */
export interface LedgerMessage {
  v: 1;
  blockSeqs: number;
  heads: [string, string, number, number, number, string][];
}

/** Heads per ledger message: ~100 bytes each, so a message stays well under 64 KiB. */
export const HEADS_PER_MESSAGE = 256;

export function encodeLedgerMessages(blockSeqs: number, heads: readonly BlockHead[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < heads.length; i += HEADS_PER_MESSAGE) {
    const msg: LedgerMessage = { v: 1, blockSeqs, heads: heads.slice(i, i + HEADS_PER_MESSAGE).map((h) => [h.session, h.stream, h.block, h.count, h.lastSeq, h.head]) };
    out.push(JSON.stringify(msg));
  }
  return out;
}

/** Parses a peer's ledger message; undefined for anything malformed or made with another block size (not comparable). */
export function decodeLedgerMessage(bytes: Uint8Array, blockSeqs: number): BlockHead[] | undefined {
  let msg: unknown;
  try {
    msg = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof msg !== 'object' || msg === null) return undefined;
  const m = msg as Partial<LedgerMessage>;
  if (m.v !== 1 || m.blockSeqs !== blockSeqs || !Array.isArray(m.heads)) return undefined;
  const out: BlockHead[] = [];
  for (const h of m.heads as unknown[]) {
    if (!Array.isArray(h) || h.length !== 6) return undefined;
    const [session, stream, block, count, lastSeq, head] = h as unknown[];
    if (typeof session !== 'string' || typeof stream !== 'string' || typeof head !== 'string' || !/^[0-9a-f]{64}$/.test(head)) return undefined;
    if (![block, count, lastSeq].every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) return undefined;
    out.push({ session, stream, block: block as number, count: count as number, lastSeq: lastSeq as number, head });
  }
  return out;
}
