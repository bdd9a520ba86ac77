/**
 * What one crossing into the addon costs on the receive path: the
 * `decodeHeaders` call a clear endpoint makes per received batch (after the
 * `recvmmsg` callback that delivered it), with 0, 1 and 64 datagrams of
 * 1 KiB. The figure behind keeping that second crossing rather than making
 * the transport decode headers (bench/RESULTS.md, "Structure and packaging").
 *
 *   npm run build && node dist/bench/addon-crossing.js [--runs N]
 */

import { parseArgs } from 'node:util';
import { loadNative } from '../src/addon/addon';
import { DECODED_WORDS } from '../src/wire/decode';
import { DatagramType, encodeDatagram } from '../src/wire/header';
import { parseRuns } from './runner';
import { formatTable, median } from './table';

const BATCH = 64;

function main(): void {
  const { values } = parseArgs({ options: { runs: { type: 'string' } } });
  const runs = parseRuns(values.runs ?? '5', false);
  const { addon, error } = loadNative();
  if (addon === undefined) throw new Error(`the addon did not load: ${error.message}`);
  const dg = encodeDatagram({ type: DatagramType.DATA, flags: 0, keyId: 0, streamId: 0, sessionHi: 1, sessionLo: 2, sequence: 5 }, Buffer.alloc(1000));
  const buffer = Buffer.alloc(dg.length * BATCH);
  const offsets = new Uint32Array(BATCH);
  const lengths = new Uint32Array(BATCH);
  for (let i = 0; i < BATCH; i++) {
    dg.copy(buffer, i * dg.length);
    offsets[i] = i * dg.length;
    lengths[i] = dg.length;
  }
  const out = new Uint32Array(BATCH * DECODED_WORDS);
  const rows: string[][] = [];
  for (const count of [0, 1, BATCH]) {
    // About a second per run whatever the batch size.
    const calls = count === BATCH ? 150_000 : 5_000_000;
    const ns: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) addon.decodeHeaders(buffer, offsets, lengths, count, out);
      ns.push(Number(process.hrtime.bigint() - t0) / calls);
    }
    rows.push([String(count), count === 0 ? 'the crossing alone' : `${count} × 1 KiB (CRC32C included)`, median(ns).toFixed(0), `${Math.min(...ns).toFixed(0)}–${Math.max(...ns).toFixed(0)}`]);
  }
  console.log(`addon.decodeHeaders per call, node ${process.version}, median of ${runs} runs (wall time)\n`);
  console.log(formatTable(['datagrams', 'what', 'ns/call', 'min–max'], rows));
}

main();
