/**
 * The collectors' ledger (src/logs/ledger.ts): block heads, what makes a
 * block comparable, the exchange format; then two collectors on the
 * simulated network, one of them fed a forged record: both log the
 * divergence, and an honest run logs none.
 */

import test from 'ava';
import { rmSync } from 'node:fs';
import { MemoryNetwork } from '../src/index';
import { blockHead, decodeLedgerMessage, encodeLedgerMessages, Ledger, type BlockHead } from '../src/logs/ledger';
import { drive, settle } from './helpers/channel-memory';
import { awaitMembers, settleIO, forging, memoryCollector, memorySender, readLogs, tempDir, writeRecords } from './fixtures/logs-collector-memory';

const S = '00000000000000aa';
const rec = (seq: number, text = `r${seq}`): { seq: number; bytes: Buffer } => ({ seq, bytes: Buffer.from(text) });

function feed(ledger: Ledger, from: number, to: number, text: (seq: number) => string = (s) => `r${s}`): void {
  for (let seq = from; seq <= to; seq++) ledger.record(S, 'logs', seq, Buffer.from(text(seq)));
}

test('a block closes when a record of a later block arrives, with the head any collector computes', (t) => {
  const ledger = new Ledger({ blockSeqs: 4 });
  feed(ledger, 0, 3);
  t.deepEqual(ledger.pollHeads(), []);
  feed(ledger, 4, 4);
  const heads = ledger.pollHeads();
  t.is(heads.length, 1);
  t.like(heads[0], { session: S, stream: 'logs', block: 0, count: 4, lastSeq: 3 });
  t.is(heads[0]!.head, blockHead(S, 'logs', 0, [0, 1, 2, 3].map((s) => rec(s))));
  t.regex(heads[0]!.head, /^[0-9a-f]{64}$/);
});

test('the head depends on every byte, every seq and the order of the records', (t) => {
  const base = blockHead(S, 'logs', 0, [rec(0), rec(1)]);
  t.not(blockHead(S, 'logs', 0, [rec(0), rec(1, 'r2')]), base);
  t.not(blockHead(S, 'logs', 0, [rec(0), { seq: 2, bytes: Buffer.from('r1') }]), base);
  t.not(blockHead(S, 'logs', 0, [rec(1), rec(0)]), base);
  t.not(blockHead('00000000000000bb', 'logs', 0, [rec(0), rec(1)]), base);
  t.not(blockHead(S, 'logs', 1, [rec(0), rec(1)]), base);
  // Length-prefixed: moving bytes from one record to the next changes the head.
  t.not(blockHead(S, 'logs', 0, [{ seq: 0, bytes: Buffer.from('ab') }, { seq: 1, bytes: Buffer.from('c') }]), blockHead(S, 'logs', 0, [{ seq: 0, bytes: Buffer.from('a') }, { seq: 1, bytes: Buffer.from('bc') }]));
});

test('a collector that starts in the middle of a block holds no head for it, and agrees on the next ones', (t) => {
  const full = new Ledger({ blockSeqs: 4 });
  const late = new Ledger({ blockSeqs: 4 });
  feed(full, 0, 12);
  feed(late, 2, 12);
  const fullHeads = full.pollHeads();
  const lateHeads = late.pollHeads();
  t.deepEqual(fullHeads.map((h) => h.block), [0, 1, 2]);
  t.deepEqual(lateHeads.map((h) => h.block), [1, 2]);
  full.handlePeerHeads('late', lateHeads);
  late.handlePeerHeads('full', fullHeads);
  t.deepEqual(full.pollDivergences(), []);
  t.deepEqual(late.pollDivergences(), []);
});

test('a collector that starts exactly at a block boundary holds that block', (t) => {
  const late = new Ledger({ blockSeqs: 4 });
  feed(late, 4, 8);
  t.deepEqual(late.pollHeads().map((h) => h.block), [1]);
});

test('a loss leaves every block it touches without a head', (t) => {
  const ledger = new Ledger({ blockSeqs: 4 });
  feed(ledger, 0, 2);
  ledger.loss(S, 'logs', 3, 9);
  feed(ledger, 10, 16);
  t.deepEqual(ledger.pollHeads().map((h) => h.block), [3]);
});

test('a loss that ends on a block boundary spares the next block', (t) => {
  const ledger = new Ledger({ blockSeqs: 4 });
  feed(ledger, 0, 1);
  ledger.loss(S, 'logs', 2, 3);
  feed(ledger, 4, 8);
  t.deepEqual(ledger.pollHeads().map((h) => h.block), [1]);
});

test('the last block closes when the source ends, and not when it times out', (t) => {
  const ended = new Ledger({ blockSeqs: 4 });
  feed(ended, 0, 5);
  ended.end(S, 'logs');
  t.deepEqual(ended.pollHeads().map((h) => [h.block, h.count, h.lastSeq]), [[0, 4, 3], [1, 2, 5]]);
  const timedOut = new Ledger({ blockSeqs: 4 });
  feed(timedOut, 0, 5);
  timedOut.forget(S, 'logs');
  t.deepEqual(timedOut.pollHeads().map((h) => h.block), [0]);
});

test('one changed record makes both sides report the block, once, naming the peer', (t) => {
  const honest = new Ledger({ blockSeqs: 4 });
  const fooled = new Ledger({ blockSeqs: 4 });
  feed(honest, 0, 8);
  feed(fooled, 0, 8, (s) => (s === 5 ? 'forged' : `r${s}`));
  const h = honest.pollHeads();
  const f = fooled.pollHeads();
  honest.handlePeerHeads('fooled', f);
  honest.handlePeerHeads('fooled', f); // repeated: still one report
  fooled.handlePeerHeads('honest', h);
  const dh = honest.pollDivergences();
  const df = fooled.pollDivergences();
  t.is(dh.length, 1);
  t.is(df.length, 1);
  t.like(dh[0], { session: S, stream: 'logs', block: 1, fromSeq: 4, toSeq: 7, peer: 'fooled' });
  t.like(df[0], { block: 1, peer: 'honest' });
  t.is(dh[0]!.mine.head, df[0]!.theirs.head);
  t.not(dh[0]!.mine.head, dh[0]!.theirs.head);
});

test('a record more in a final block is a divergence too', (t) => {
  const a = new Ledger({ blockSeqs: 4 });
  const b = new Ledger({ blockSeqs: 4 });
  feed(a, 0, 5);
  feed(b, 0, 6);
  a.end(S, 'logs');
  b.end(S, 'logs');
  a.handlePeerHeads('b', b.pollHeads());
  t.like(a.pollDivergences()[0], { block: 1, mine: { count: 2, lastSeq: 5 }, theirs: { count: 3, lastSeq: 6 } });
});

test('peer heads that arrive before the block closes here are compared when it closes', (t) => {
  const ahead = new Ledger({ blockSeqs: 4 });
  const behind = new Ledger({ blockSeqs: 4 });
  feed(ahead, 0, 8, (s) => (s === 1 ? 'x' : `r${s}`));
  behind.handlePeerHeads('ahead', ahead.pollHeads()); // behind has seen nothing of this source yet
  feed(behind, 0, 3);
  t.deepEqual(behind.pollDivergences(), []);
  feed(behind, 4, 4);
  t.like(behind.pollDivergences(), [{ block: 0, peer: 'ahead' }]);
  feed(behind, 5, 8);
  t.deepEqual(behind.pollDivergences(), [], 'block 1 agrees');
});

test('closed blocks stay comparable after the source ended', (t) => {
  const a = new Ledger({ blockSeqs: 4 });
  const b = new Ledger({ blockSeqs: 4 });
  feed(a, 0, 3);
  a.end(S, 'logs');
  feed(b, 0, 3, () => 'other');
  b.end(S, 'logs');
  a.handlePeerHeads('b', b.pollHeads());
  t.is(a.pollDivergences().length, 1);
});

test('ledger messages round-trip; malformed ones and another block size are refused', (t) => {
  const heads: BlockHead[] = [{ session: S, stream: 'logs', block: 3, count: 2, lastSeq: 13, head: 'ab'.repeat(32) }];
  const [msg] = encodeLedgerMessages(4, heads);
  t.deepEqual(decodeLedgerMessage(Buffer.from(msg!), 4), heads);
  t.is(decodeLedgerMessage(Buffer.from(msg!), 8), undefined);
  t.is(decodeLedgerMessage(Buffer.from('{"v":1,"blockSeqs":4,"heads":[["a","b",1,1,1,"zz"]]}'), 4), undefined);
  t.is(decodeLedgerMessage(Buffer.from('{"v":1,"blockSeqs":4,"heads":[["a","b",-1,1,1,"' + 'a'.repeat(64) + '"]]}'), 4), undefined);
  t.is(decodeLedgerMessage(Buffer.from('not json'), 4), undefined);
  t.is(encodeLedgerMessages(4, Array.from({ length: 600 }, () => heads[0]!)).length, 3);
});

// ---- two collectors on the simulated network ----

async function twoCollectors(t: import('ava').ExecutionContext, forge: boolean): Promise<{ logs: ReturnType<typeof readLogs>[]; ids: string[]; forged: number }> {
  const net = new MemoryNetwork({ seed: 7 });
  const dirs = [tempDir('ledger-a'), tempDir('ledger-b')];
  t.teardown(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const counts = { forged: 0 };
  const a = await memoryCollector(net, 'collector-a', dirs[0]!, { ledgerBlockSeqs: 8 });
  const b = await memoryCollector(net, 'collector-b', dirs[1]!, { ledgerBlockSeqs: 8, ...(forge ? { wrapTransport: forging('"pay 100"', '"pay 900"', counts) } : {}) });
  const sender = await memorySender(net, 'app', 'payments');
  await awaitMembers(net, [a, b], 1);
  await writeRecords(net, sender, 0, 24, (i) => (i === 10 ? 'pay 100' : `record ${i}`));
  await settle(net, sender.close());
  await drive(net, () => false, 1000); // heads exchanged
  await settleIO(net, Promise.all([a.close(), b.close()]));
  return { logs: dirs.map((d) => readLogs(d)), ids: [a.channel.info.sessionId, b.channel.info.sessionId], forged: counts.forged };
}

test('two collectors, one fed a forged record: both log the divergence of that block, naming each other', async (t) => {
  const { logs, ids, forged } = await twoCollectors(t, true);
  t.is(forged, 1);
  const divergences = logs.map((l) => [...l.values()].flatMap((f) => f.lines.filter((x) => x.blipcast === 'divergence')));
  t.is(divergences[0]!.length, 1);
  t.is(divergences[1]!.length, 1);
  t.like(divergences[0]![0], { fromSeq: 8, toSeq: 15, block: 1, count: 8, lastSeq: 15, peer: { collector: ids[1], name: 'collector-b' }, source: { name: 'payments' } });
  t.like(divergences[1]![0], { fromSeq: 8, toSeq: 15, peer: { collector: ids[0], name: 'collector-a' } });
  t.is((divergences[0]![0] as unknown as { head: string }).head, (divergences[1]![0] as unknown as { peer: { head: string } }).peer.head);
  t.not((divergences[0]![0] as unknown as { head: string }).head, (divergences[1]![0] as unknown as { head: string }).head);
  // Each kept what it received: the fooled collector's file has the forged record.
  const record10 = logs.map((l) => [...l.values()][0]!.lines.find((x) => x.i === 10)!.msg);
  t.deepEqual(record10, ['pay 100', 'pay 900']);
});

test('two honest collectors log no divergence and hold the same records', async (t) => {
  const { logs, forged } = await twoCollectors(t, false);
  t.is(forged, 0);
  const lines = logs.map((l) => [...l.values()].flatMap((f) => f.lines));
  t.deepEqual(lines[0]!.filter((x) => x.blipcast !== undefined), []);
  t.is(lines[0]!.length, 24);
  t.deepEqual(lines[0], lines[1]);
});
