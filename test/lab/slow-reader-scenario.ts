/**
 * The slow-reader scenario: a writer and a reader, each a fixture program on
 * the public API (test/fixtures/fast-writer.ts, slow-reader.ts), on two lab
 * hosts. The reader awaits 1 ms every 500 messages; the writer writes as fast
 * as write()/'drain' let it. The reader must get every message in order with
 * no 'loss' event: the writer has to be paced to it. Does not import AVA.
 */

import type { FastWriterResult } from '../fixtures/fast-writer';
import type { SlowReaderResult } from '../fixtures/slow-reader';
import { CpuLoad } from './cpu-load';
import { capture, type Captured, splitLines, tail, waitForMembership } from './delivery';
import { fixturePath, type LabHost, withLab } from './lab';
import { exitText, formatLoad, runNotes, SENDER_GRACE_MS, STALL_MS, type ScenarioOptions, type ScenarioResult, supervise } from './scenario-result';
import { randomGroup4, randomPort } from './traffic';

const SLOW_READER_COUNT = 1_000_000;
const SLOW_READER_SIZE = 200;
const SLOW_READER_TIMEOUT_MS = 90_000;

export async function runSlowReader(options: ScenarioOptions): Promise<ScenarioResult> {
  const startedMs = performance.now();
  const { notes, note } = runNotes(options);
  const load = options.load === true ? CpuLoad.start({}) : undefined;
  try {
    return await withLab({ hosts: 2, name: 'slowrd', gsoRuns: options.gsoRuns === true }, async (lab) => {
      const [writerHost, readerHost] = lab.hosts as [LabHost, LabHost];
      const target = `${randomGroup4()}:${randomPort()}`;
      const reader = capture(
        `slow-reader@${readerHost.name}`,
        lab.spawnNode(readerHost, fixturePath('slow-reader'), ['--group', target, '--iface', readerHost.ipv4, '--count', String(SLOW_READER_COUNT), '--timeout-ms', String(SLOW_READER_TIMEOUT_MS)], { stdio: ['ignore', 'pipe', 'pipe'] }),
      );
      await waitForMembership(lab, readerHost, target.split(':')[0]!, reader);
      const writer = capture(
        `fast-writer@${writerHost.name}`,
        lab.spawnNode(writerHost, fixturePath('fast-writer'), ['--group', target, '--iface', writerHost.ipv4, '--count', String(SLOW_READER_COUNT), '--size', String(SLOW_READER_SIZE)], { stdio: ['ignore', 'pipe', 'pipe'] }),
      );
      const writeStartMs = performance.now();
      await supervise([writer], [reader], SLOW_READER_TIMEOUT_MS + SENDER_GRACE_MS);
      const loadReport = load ? await load.stop() : undefined;
      const lastJson = <T>(c: Captured): T | undefined => {
        const lines = splitLines(Buffer.concat(c.chunks).toString('utf8')).filter((l) => l.startsWith('{'));
        return lines.length ? (JSON.parse(lines.at(-1)!) as T) : undefined;
      };
      const r = lastJson<SlowReaderResult>(reader);
      const w = lastJson<FastWriterResult>(writer);
      const failures: string[] = [];
      if (r === undefined) failures.push(`${reader.label} printed no result (exit ${exitText(reader.exited)}): ${tail(reader.stderr)}`);
      else {
        if (r.received !== SLOW_READER_COUNT || r.outOfOrder > 0 || r.corrupt > 0) {
          failures.push(
            `${reader.label} got ${r.received} of ${SLOW_READER_COUNT} messages${r.timedOut ? ' (timed out)' : ''}${r.terminated ? ` (stopped: no progress for ${STALL_MS / 1000} s after the writer exited)` : ''}, out of order ${r.outOfOrder}` +
              `${r.firstOutOfOrder.length ? ` (first: message #${r.firstOutOfOrder[0]!.at} was index ${r.firstOutOfOrder[0]!.got})` : ''}, corrupt ${r.corrupt}`,
          );
        }
        if (r.losses.length > 0) failures.push(`${reader.label} had ${r.losses.length} 'loss' event(s): ${r.losses.slice(0, 5).map((l) => `seq ${l.fromSeq}-${l.toSeq} (${l.toSeq - l.fromSeq + 1}) ${l.reason}`).join(' | ')}`);
      }
      if (w === undefined || writer.exited?.code !== 0) failures.push(`${writer.label} exited ${exitText(writer.exited)}${w ? '' : ' without a result'}: ${tail(writer.stderr)}`);
      const dropped = w?.receivers.filter((e) => e.event === 'receiver-dropped') ?? [];
      if (dropped.length > 0) failures.push(`${writer.label} dropped its reader: ${dropped.map((d) => `${d.reason} at ${d.atMs} ms`).join(', ')}`);

      note(`slow-reader: ${SLOW_READER_COUNT} × ${SLOW_READER_SIZE}-byte messages, no injected loss; the reader awaits 1 ms every 500 messages (for await, default flow control)`);
      if (w) {
        note(
          `${writer.label}: exit ${exitText(writer.exited)}; wrote for ${(w.writeMs / 1000).toFixed(2)} s (${w.drains} waits for 'drain'), close() took ${(w.closeMs / 1000).toFixed(2)} s: ` +
            `elapsed ${(w.elapsedMs / 1000).toFixed(2)} s = ${Math.round(SLOW_READER_COUNT / (w.elapsedMs / 1000))} msgs/s; receiver events: ${w.receivers.map((e) => `${e.event}${e.reason ? ` (${e.reason})` : ''} at ${e.atMs} ms`).join(', ') || 'none'}`,
        );
      }
      if (r) {
        note(
          `${reader.label}: ${r.received} messages over ${(r.spanMs / 1000).toFixed(2)} s (${Math.round(r.received / Math.max(r.spanMs / 1000, 0.001))} msgs/s), ` +
            `loss events ${r.losses.length}, out of order ${r.outOfOrder}, sources ${r.sources}; exit ${exitText(reader.exited)} at ${(((reader.exited?.atMs ?? 0) - writeStartMs) / 1000).toFixed(2)} s`,
        );
      }
      if (loadReport) note(formatLoad(loadReport));
      const ok = failures.length === 0;
      const exact = r !== undefined && r.received === SLOW_READER_COUNT && r.outOfOrder === 0 && r.corrupt === 0 && r.losses.length === 0;
      const firstLoss = r?.losses[0] ? `${reader.label}: seq ${r.losses[0].fromSeq}-${r.losses[0].toSeq} (${r.losses[0].toSeq - r.losses[0].fromSeq + 1}) ${r.losses[0].reason}` : undefined;
      return {
        scenario: 'slow-reader',
        ok,
        exact,
        senders: [{ label: writer.label, exit: exitText(writer.exited), code: writer.exited?.code ?? null, seconds: (w?.elapsedMs ?? 0) / 1000, expectedCode: 0, json: w ? [w as unknown as Record<string, unknown>] : [], stderr: writer.stderr }],
        receivers: [],
        failures,
        firstLoss,
        shape: ok ? '' : `reader ${r?.received ?? '?'}/${SLOW_READER_COUNT}, ${r?.losses.length ?? '?'} loss event(s)${firstLoss ? ` first ${firstLoss.replace(/^[^:]*: /, '')}` : ''}; writer exit ${exitText(writer.exited)}`,
        notes,
        wallMs: performance.now() - startedMs,
      };
    });
  } finally {
    if (load) await load.stop();
  }
}
