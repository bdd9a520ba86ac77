/**
 * The log collector (`createLogCollector`, `blipcast collect logs`): joins
 * a group as a member with role {@link LOG_COLLECTOR_ROLE}, writes every
 * record of every source to that source's own newline-delimited JSON file,
 * turns every loss into a line, keeps crash-safe checkpoints, and compares
 * its ledger with the other collectors'. docs/logging.md is the manual.
 */

import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { open, type Channel, type LossInfo, type MemberInfo, type MessageBatch, type Scheduler, type SourceInfo } from '../index';
import { realScheduler } from '../apps/scheduler';
import { checkpointKey, indexFiles, loadCheckpoint, recoverTail, saveCheckpoint, type CheckpointEntry } from './checkpoint';
import {
  DEFAULT_LOG_STREAM, isLogCollector, LOG_COLLECTOR_ROLE, logMember, LOSS_COLLECTOR_BACKLOG, LOSS_COLLECTOR_RESTART, ledgerStream,
  type DivergenceLine, type LogSource, type LossLine,
} from './format';
import { decodeLedgerMessage, DEFAULT_LEDGER_BLOCK_SEQS, encodeLedgerMessages, Ledger, type BlockHead, type Divergence } from './ledger';
import {
  COLLECTOR_CLOSE_QUIET_MS, COLLECTOR_LINGER_MS, DEFAULT_CHECKPOINT_INTERVAL_MS, DEFAULT_COLLECTOR_NAME, DEFAULT_HOLD_BYTES, DEFAULT_HOLD_MS, DEFAULT_LEDGER_INTERVAL_MS, DEFAULT_MAX_BACKLOG_BYTES, MAX_ENDED_SOURCES,
  MAX_REMEMBERED_MEMBERS, type LogCollectorCounters, type LogCollectorEvents, type LogCollectorOptions,
} from './collector-options';
import { fileStem, recordLine, seqSpan } from './lines';
import { RECENT_END_MS, RestartGaps } from './restart-gaps';
import { parseRotate, type Rotation } from './rotation';
import { endSourceFile, openSourceFile, type RotatingFileStream } from './source-file';

type Entry =
  | { kind: 'record'; seq: number; data: Buffer }
  | { kind: 'loss'; fromSeq: number; toSeq: number; reason: string; time: number }
  | { kind: 'divergence'; d: Divergence; time: number }
  | { kind: 'end' };

interface SourceState {
  session: string;
  address: string | undefined;
  /** Undefined while records are held for the member's join. */
  identity: LogSource | undefined;
  stem: string | undefined;
  file: RotatingFileStream | undefined;
  held: Entry[];
  heldBytes: number;
  holdTimer: unknown;
  /** Lines at or below this seq are in the files already (a restart). */
  skipThrough: number;
  /** Where the files stood at a restart; the first delivery beyond it is checked for a gap. Undefined once checked. */
  resumeNext: number | undefined;
  /** Last seq of a line handed to the file, the next seq expected after it. */
  lastSeq: number;
  /** Records dropped for the backlog, to be written as one loss line. */
  backlog: { fromSeq: number; toSeq: number } | undefined;
  ended: boolean;
}

export type { LogCollectorCounters, LogCollectorEvents, LogCollectorOptions };

export class LogCollector extends EventEmitter<LogCollectorEvents> {
  readonly stream: string;
  private readonly sources = new Map<string, SourceState>();
  private readonly ended: string[] = [];
  private readonly members = new Map<string, MemberInfo>();
  private readonly checkpoint: Map<string, CheckpointEntry>;
  private readonly files: Map<string, { stem: string; rotated: string[] }>;
  private readonly ledger: Ledger;
  /** The checkpoint's sources that went away while this collector was down (see restart-gaps.ts). */
  private readonly restartGaps: RestartGaps;
  /** The last heads of sources that closed recently, re-announced every ledger interval until `untilMs`. */
  private readonly recentEnds = new Map<string, { head: BlockHead; untilMs: number }>();
  private readonly counts: LogCollectorCounters = {
    records: 0, bytes: 0, sources: 0, losses: 0, lostSeqs: 0, divergences: 0, files: 0, held: 0, skipped: 0, nonObject: 0,
    ledgerHeadsSent: 0, ledgerHeadsReceived: 0, ledgerRejected: 0, checkpoints: 0, errors: 0,
  };
  private heldBytes = 0;
  private readonly fileEnds = new Set<Promise<void>>();
  private readonly peerWaits = new Map<string, { list: { d: Divergence; time: number }[]; timer: unknown }>();
  private backlogBytes = 0;
  private checkpointDirty = false;
  private saving: Promise<void> | undefined;
  private timers: unknown[] = [];
  private closing: Promise<void> | undefined;
  /** The senders' datagram size, to count the sequence numbers of a record (its fragments). */
  private readonly maxDatagramBytes: number;

  /** @internal use {@link createLogCollector} */
  constructor(readonly channel: Channel, private readonly o: Required<Pick<LogCollectorOptions, 'dir' | 'holdMs' | 'holdBytes' | 'checkpointIntervalMs' | 'ledgerIntervalMs' | 'maxBacklogBytes'>> & {
    stream: string; rotation: Rotation; scheduler: Scheduler; blockSeqs: number; keyed: boolean; maxDatagramBytes: number | undefined;
  }, checkpoint: Map<string, CheckpointEntry>) {
    super();
    this.stream = o.stream;
    this.checkpoint = checkpoint;
    this.files = indexFiles(o.dir);
    this.ledger = new Ledger({ blockSeqs: o.blockSeqs });
    const now = o.scheduler.nowMs();
    const restored = [...checkpoint.values()].filter((e) => e.stream === o.stream).map((e): [string, number] => [e.session, e.next]);
    this.restartGaps = new RestartGaps(restored, now + Math.max(o.holdMs, 2 * o.ledgerIntervalMs), now + RECENT_END_MS);
    this.maxDatagramBytes = o.maxDatagramBytes ?? (channel.info.family === 6 ? 1452 : 1472);
    const group = channel.group!;
    for (const m of group.members()) this.members.set(m.id, m);
    group.on('join', (m) => this.onMember(m));
    group.on('update', (m) => this.onMember(m));
    channel.on('messages', (batch) => this.onBatch(batch));
    channel.on('loss', (loss) => this.onLoss(loss));
    channel.on('source-gone', (source, reason) => this.onSourceGone(source, reason === 'closed'));
    channel.on('error', (err) => this.warn(err));
    this.every(o.checkpointIntervalMs, () => {
      // A source that went quiet after records were dropped for the backlog still gets its loss line once the disk caught up.
      if (this.backlogBytes <= o.maxBacklogBytes / 2) for (const s of this.sources.values()) this.flushBacklog(s);
      this.reportRestartGaps();
      void this.saveCheckpoint();
    });
    this.every(o.ledgerIntervalMs, () => this.publishHeads());
  }

  /** A snapshot of the counters; the caller may keep it. */
  counters(): LogCollectorCounters {
    let sources = 0;
    for (const s of this.sources.values()) if (!s.ended) sources++;
    return { ...this.counts, sources };
  }

  /**
   * Writes what is held (with what is known of its sources), sends the last
   * ledger heads, leaves the group, closes every file and saves the
   * checkpoint. Every call returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    for (const t of this.timers) this.o.scheduler.clearTimer(t);
    this.timers = [];
    this.publishHeads();
    await this.channel.close();
    this.drainDivergences();
    for (const peer of [...this.peerWaits.keys()]) this.releaseDivergences(peer);
    for (const s of this.sources.values()) if (s.identity === undefined) this.resolve(s);
    for (const s of this.sources.values()) {
      this.flushBacklog(s);
      if (s.file !== undefined) void this.endFile(s);
    }
    await Promise.all(this.fileEnds);
    if (this.saving) await this.saving;
    this.checkpointDirty = true;
    await this.saveCheckpoint();
  }

  private every(periodMs: number, fn: () => void): void {
    const slot = this.timers.length;
    const arm = (): void => {
      this.timers[slot] = this.o.scheduler.setTimer(() => {
        if (this.closing) return;
        fn();
        arm();
      }, periodMs);
    };
    arm();
  }

  private warn(err: Error): void {
    this.counts.errors++;
    if (this.listenerCount('warning') > 0) this.emit('warning', err);
  }

  // ---- input from the channel ----

  private onMember(m: MemberInfo): void {
    this.members.delete(m.id); // re-inserted last: the map forgets the members heard of longest ago first
    this.members.set(m.id, m);
    if (this.members.size > MAX_REMEMBERED_MEMBERS) this.members.delete(this.members.keys().next().value!);
    this.releaseDivergences(m.id);
    const s = this.sources.get(m.id);
    if (s === undefined) return;
    if (s.identity === undefined) this.resolve(s);
    else if (s.identity.name === s.session) s.identity = this.identityOf(s); // known at last: later lines say who
  }

  private onBatch(batch: MessageBatch): void {
    if (batch.stream === this.stream) {
      const session = batch.source.id;
      this.restartGaps.heard(session);
      for (let i = 0; i < batch.count; i++) {
        const seq = batch.seq(i);
        const data = batch.data(i);
        this.ledger.record(session, this.stream, seq, data);
        this.push(this.state(batch.source), { kind: 'record', seq, data });
      }
    } else if (batch.stream === ledgerStream(this.stream)) {
      for (let i = 0; i < batch.count; i++) {
        const heads = decodeLedgerMessage(batch.data(i), this.ledger.blockSeqs);
        if (heads === undefined) {
          this.counts.ledgerRejected++;
          continue;
        }
        this.counts.ledgerHeadsReceived += heads.length;
        for (const h of heads) if (h.stream === this.stream) this.restartGaps.peerHead(h.session, h.lastSeq);
        this.ledger.handlePeerHeads(batch.source.id, heads);
      }
    }
    this.drainDivergences();
  }

  private onLoss(loss: LossInfo): void {
    if (loss.stream !== this.stream) return;
    this.restartGaps.heard(loss.source.id);
    this.ledger.loss(loss.source.id, this.stream, loss.fromSeq, loss.toSeq);
    this.push(this.state(loss.source), { kind: 'loss', fromSeq: loss.fromSeq, toSeq: loss.toSeq, reason: loss.reason, time: Date.now() });
    this.drainDivergences();
  }

  private onSourceGone(source: SourceInfo, closed: boolean): void {
    const s = this.sources.get(source.id);
    if (closed) {
      this.ledger.end(source.id, this.stream);
      const head = this.ledger.lastHead(source.id, this.stream);
      if (head !== undefined) this.recentEnds.set(source.id, { head, untilMs: this.o.scheduler.nowMs() + RECENT_END_MS });
    }
    else this.ledger.forget(source.id, this.stream);
    this.drainDivergences();
    if (s !== undefined && !s.ended) this.push(s, { kind: 'end' });
  }

  private drainDivergences(): void {
    for (const d of this.ledger.pollDivergences()) {
      if (this.members.has(d.peer)) this.pushDivergence(d, Date.now());
      else this.holdDivergence(d);
    }
  }

  /** A divergence found against a collector not known as a member yet (its heads came before its announce) waits for its join, as records do. */
  private holdDivergence(d: Divergence): void {
    const time = Date.now();
    let waiting = this.peerWaits.get(d.peer);
    if (waiting === undefined) {
      const list: { d: Divergence; time: number }[] = [];
      waiting = { list, timer: this.o.scheduler.setTimer(() => this.releaseDivergences(d.peer), this.o.holdMs) };
      this.peerWaits.set(d.peer, waiting);
    }
    waiting.list.push({ d, time });
  }

  private releaseDivergences(peer: string): void {
    const waiting = this.peerWaits.get(peer);
    if (waiting === undefined) return;
    this.peerWaits.delete(peer);
    this.o.scheduler.clearTimer(waiting.timer);
    for (const { d, time } of waiting.list) this.pushDivergence(d, time);
  }

  private pushDivergence(d: Divergence, time: number): void {
    this.push(this.state({ id: d.session, address: undefined, port: undefined }, false), { kind: 'divergence', d, time });
  }

  /** Loss lines for what a restarted collector learns it cannot get any more: the sender is gone, another collector saw further. */
  private reportRestartGaps(): void {
    const group = this.channel.group;
    if (group === undefined || this.closing) return;
    const live = new Set(group.members().filter((m) => m.state === 'alive' || m.state === 'suspect').map((m) => m.id));
    for (const gap of this.restartGaps.poll(this.o.scheduler.nowMs(), (session) => live.has(session))) {
      const s = this.state({ id: gap.session, address: undefined, port: undefined }, false);
      this.push(s, { kind: 'loss', fromSeq: gap.fromSeq, toSeq: gap.toSeq, reason: LOSS_COLLECTOR_RESTART, time: Date.now() });
      this.push(s, { kind: 'end' });
    }
  }

  private publishHeads(): void {
    const heads = this.ledger.pollHeads();
    // A collector restarted after a source closed learns from these how far that source went (restart-gaps.ts).
    const now = this.o.scheduler.nowMs();
    for (const [session, e] of this.recentEnds) {
      if (now >= e.untilMs) this.recentEnds.delete(session);
      else if (!heads.includes(e.head)) heads.push(e.head);
    }
    if (heads.length === 0 || this.channel.status !== 'open') return;
    for (const msg of encodeLedgerMessages(this.ledger.blockSeqs, heads)) this.channel.write(msg, ledgerStream(this.stream));
    this.counts.ledgerHeadsSent += heads.length;
  }

  // ---- sources: identity, holding ----

  /** The state of a source, created when first heard; `revive`: data of an ended source (it timed out and came back). */
  private state(source: SourceInfo, revive = true): SourceState {
    let s = this.sources.get(source.id);
    if (s === undefined) {
      s = {
        session: source.id, address: source.address === undefined ? undefined : `${source.address}:${source.port}`, identity: undefined, stem: undefined,
        file: undefined, held: [], heldBytes: 0, holdTimer: undefined, skipThrough: -1, resumeNext: undefined, lastSeq: -1, backlog: undefined, ended: false,
      };
      this.sources.set(source.id, s);
      // Known from the group, the checkpoint, or the last line of its file (a restart before the first checkpoint): no need to hold.
      if (this.members.has(source.id) || this.checkpoint.has(checkpointKey(source.id, this.stream)) || this.files.has(source.id)) this.resolve(s);
    } else if (s.ended && revive && !this.closing) {
      s.ended = false; // heard again (a source that timed out came back): continue its file
      this.forgetEnded(s.session);
    }
    if (s.address === undefined && source.address !== undefined) s.address = `${source.address}:${source.port}`;
    return s;
  }

  private identityOf(s: SourceState): LogSource | undefined {
    const m = this.members.get(s.session);
    if (m !== undefined) {
      const pid = Number(m.metadata.pid);
      return { session: s.session, name: m.name, host: m.metadata.host, pid: Number.isSafeInteger(pid) ? pid : undefined, address: s.address };
    }
    const cp = this.checkpoint.get(checkpointKey(s.session, this.stream));
    if (cp !== undefined) return { session: s.session, name: cp.name, host: cp.host, pid: cp.pid, address: s.address ?? cp.address };
    return undefined;
  }

  private push(s: SourceState, e: Entry): void {
    if (s.identity !== undefined) {
      this.deliver(s, e);
      return;
    }
    const bytes = e.kind === 'record' ? e.data.length + 64 : 128;
    s.held.push(e);
    s.heldBytes += bytes;
    this.heldBytes += bytes;
    if (e.kind === 'record') this.counts.held++;
    if (s.holdTimer === undefined) s.holdTimer = this.o.scheduler.setTimer(() => this.resolve(s), this.o.holdMs);
    if (this.heldBytes > this.o.holdBytes) {
      // Over the bound: the longest-held sessions (Map order ≈ first heard) are written with what is known.
      for (const other of this.sources.values()) {
        if (this.heldBytes <= this.o.holdBytes / 2) break;
        if (other.identity === undefined && other.held.length > 0) this.resolve(other);
      }
    }
  }

  /** Settles a source's identity (its member record, its checkpoint, or its address and session) and writes what it held. */
  private resolve(s: SourceState): void {
    if (s.identity !== undefined) return;
    if (s.holdTimer !== undefined) this.o.scheduler.clearTimer(s.holdTimer);
    s.holdTimer = undefined;
    const cp = this.checkpoint.get(checkpointKey(s.session, this.stream));
    const onDisk = this.files.get(s.session);
    // A restart: what the files already hold is skipped; the checkpoint may be behind the files' tails (a kill), never ahead.
    const tail = cp === undefined && onDisk === undefined ? undefined : recoverTail(this.o.dir, cp?.stem ?? onDisk!.stem, onDisk?.rotated ?? []);
    const fromTail = tail?.source?.session === s.session && tail.source.name !== s.session ? tail.source : undefined;
    const known = this.identityOf(s) ?? (fromTail && { ...fromTail, address: s.address ?? fromTail.address });
    s.identity = known ?? { session: s.session, name: s.session, host: undefined, pid: undefined, address: s.address };
    s.stem = cp?.stem ?? onDisk?.stem ?? fileStem(s.identity, known !== undefined);
    const tailNext = tail === undefined ? undefined : tail.seq + (tail.length < 0 ? 1 : seqSpan(tail.length, this.maxDatagramBytes, this.o.keyed));
    const seq = Math.max(cp?.seq ?? -1, tail?.seq ?? -1);
    if (seq >= 0) {
      s.skipThrough = seq;
      s.lastSeq = seq;
      s.resumeNext = Math.max(cp?.next ?? 0, tailNext ?? 0);
    }
    const held = s.held;
    s.held = [];
    this.heldBytes -= s.heldBytes;
    s.heldBytes = 0;
    for (const e of held) {
      if (e.kind === 'record') this.counts.held--;
      this.deliver(s, e);
    }
  }

  // ---- writing ----

  private deliver(s: SourceState, e: Entry): void {
    switch (e.kind) {
      case 'record': {
        if (e.seq <= s.skipThrough) {
          this.counts.skipped++;
          s.resumeNext = undefined; // the sender still held our last line: the protocol delivers the rest without a gap
          return;
        }
        this.resumeGap(s, e.seq);
        // Over the bound, records are dropped until the backlog is back under half of it (then one loss line, in place).
        if (this.backlogBytes > this.o.maxBacklogBytes || (s.backlog !== undefined && this.backlogBytes > this.o.maxBacklogBytes / 2)) {
          s.backlog = { fromSeq: s.backlog?.fromSeq ?? e.seq, toSeq: e.seq };
          return;
        }
        this.flushBacklog(s);
        const line = recordLine(e.data, s.identity!, e.seq);
        if (line[0] === 0x7b && line[1] === 0x22 && line.subarray(0, 21).toString() === '{"blipcast":"record",') this.counts.nonObject++;
        this.counts.records++;
        this.write(s, line, e.seq, e.seq + seqSpan(e.data.length, this.maxDatagramBytes, this.o.keyed));
        return;
      }
      case 'loss': {
        const fromSeq = Math.max(e.fromSeq, s.skipThrough + 1);
        if (fromSeq > e.toSeq) return;
        this.resumeGap(s, fromSeq);
        this.flushBacklog(s);
        this.lossLine(s, fromSeq, e.toSeq, e.reason, e.time);
        return;
      }
      case 'divergence': {
        const { d } = e;
        const peer = this.members.get(d.peer);
        const pid = Number(peer?.metadata.pid);
        const line: DivergenceLine = {
          blipcast: 'divergence', block: d.block, fromSeq: d.fromSeq, toSeq: d.toSeq, head: d.mine.head, count: d.mine.count, lastSeq: d.mine.lastSeq,
          peer: { collector: d.peer, name: peer?.name, host: peer?.metadata.host, pid: Number.isSafeInteger(pid) ? pid : undefined, head: d.theirs.head, count: d.theirs.count, lastSeq: d.theirs.lastSeq },
          time: e.time, source: s.identity!,
        };
        this.counts.divergences++;
        this.write(s, Buffer.from(JSON.stringify(line) + '\n'), undefined, undefined);
        if (s.ended) void this.endFile(s);
        this.emit('divergence', line);
        return;
      }
      case 'end':
        this.flushBacklog(s);
        s.ended = true;
        this.ended.push(s.session);
        if (this.ended.length > MAX_ENDED_SOURCES) this.sources.delete(this.ended.shift()!);
        if (s.file !== undefined) void this.endFile(s);
        return;
    }
  }

  /** The first delivery after a restart: what lies between the files' end and it is a gap the sender no longer holds. */
  private resumeGap(s: SourceState, seq: number): void {
    const next = s.resumeNext;
    if (next === undefined) return;
    s.resumeNext = undefined;
    if (seq > next) this.lossLine(s, next, seq - 1, LOSS_COLLECTOR_RESTART, Date.now());
  }

  /** Writes the loss line of the records dropped for the backlog, before whatever comes next for that source. */
  private flushBacklog(s: SourceState): void {
    if (s.backlog === undefined) return;
    const { fromSeq, toSeq } = s.backlog;
    s.backlog = undefined;
    this.lossLine(s, fromSeq, toSeq, LOSS_COLLECTOR_BACKLOG, Date.now());
  }

  private lossLine(s: SourceState, fromSeq: number, toSeq: number, reason: string, time: number): void {
    const line: LossLine = { blipcast: 'loss', fromSeq, toSeq, count: toSeq - fromSeq + 1, reason, time, source: s.identity! };
    this.counts.losses++;
    this.counts.lostSeqs += line.count;
    this.write(s, Buffer.from(JSON.stringify(line) + '\n'), toSeq, toSeq + 1);
    this.emit('loss', line);
  }

  private write(s: SourceState, line: Buffer, seq: number | undefined, next: number | undefined): void {
    if (seq !== undefined) s.lastSeq = seq;
    const file = s.file ?? this.openFile(s);
    this.counts.bytes += line.length;
    this.backlogBytes += line.length;
    file.write(line, (err) => {
      this.backlogBytes -= line.length;
      if (err) return this.warn(err);
      if (seq === undefined || next === undefined) return;
      const id = s.identity!;
      this.checkpoint.set(checkpointKey(s.session, this.stream), {
        session: s.session, stream: this.stream, stem: s.stem!, name: id.name, host: id.host, pid: id.pid, address: id.address, seq, next, updatedMs: Date.now(),
      });
      this.checkpointDirty = true;
    });
  }

  private openFile(s: SourceState): RotatingFileStream {
    const file = openSourceFile(this.o.dir, s.stem!, this.o.rotation, (err) => this.warn(err), () => this.counts.files++);
    this.counts.files++;
    s.file = file;
    return file;
  }

  /** Ends a source's file; close() waits for every file ended, here or before. */
  private endFile(s: SourceState): Promise<void> {
    const file = s.file!;
    s.file = undefined;
    const done = endSourceFile(file).then(() => void this.fileEnds.delete(done));
    this.fileEnds.add(done);
    return done;
  }

  private forgetEnded(session: string): void {
    const i = this.ended.indexOf(session);
    if (i !== -1) this.ended.splice(i, 1);
  }

  private async saveCheckpoint(): Promise<void> {
    if (!this.checkpointDirty || this.saving) return;
    this.checkpointDirty = false;
    this.saving = saveCheckpoint(this.o.dir, this.checkpoint.values()).then(
      () => void this.counts.checkpoints++,
      (err: Error) => {
        this.checkpointDirty = true;
        this.warn(err);
      },
    );
    await this.saving;
    this.saving = undefined;
  }
}

/**
 * Opens a collector: validates the options, creates `dir`, reads its
 * checkpoint, then joins the group.
 * @throws InvalidArgumentValueError-like RangeError for a bad `rotate`, the open() errors, an unreadable checkpoint.
 */
export async function createLogCollector(options: LogCollectorOptions): Promise<LogCollector> {
  if (typeof options.dir !== 'string' || options.dir === '') throw new TypeError('options.dir must be a directory path');
  const stream = options.stream ?? DEFAULT_LOG_STREAM;
  const rotation = options.rotate === undefined ? {} : parseRotate(options.rotate);
  mkdirSync(options.dir, { recursive: true });
  const checkpoint = loadCheckpoint(options.dir);
  const control = ledgerStream(stream);
  const openChannel = options.openChannel ?? open;
  const channel = await openChannel({
    group: options.group,
    ...(options.interface !== undefined ? { interface: options.interface } : {}),
    ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
    ...(options.key !== undefined ? { key: options.key } : {}),
    lateJoin: options.from ?? 'next',
    streams: stream === '' ? [control] : [stream, control],
    member: logMember(LOG_COLLECTOR_ROLE, options.name ?? DEFAULT_COLLECTOR_NAME),
    paceTo: isLogCollector,
    lingerMs: COLLECTOR_LINGER_MS,
    closeQuietMs: COLLECTOR_CLOSE_QUIET_MS,
    ...options.channel,
  });
  try {
    channel.subscribe(stream);
    channel.subscribe(control);
    const collector = new LogCollector(channel, {
      dir: options.dir, stream, rotation, scheduler: options.scheduler ?? realScheduler, keyed: options.key !== undefined,
      holdMs: options.holdMs ?? DEFAULT_HOLD_MS, holdBytes: options.holdBytes ?? DEFAULT_HOLD_BYTES,
      checkpointIntervalMs: options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS,
      ledgerIntervalMs: options.ledgerIntervalMs ?? DEFAULT_LEDGER_INTERVAL_MS,
      maxBacklogBytes: options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES,
      blockSeqs: options.ledgerBlockSeqs ?? DEFAULT_LEDGER_BLOCK_SEQS, maxDatagramBytes: options.channel?.maxDatagramBytes,
    }, checkpoint);
    return collector;
  } catch (err) {
    await channel.close();
    throw err;
  }
}
