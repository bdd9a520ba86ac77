/**
 * `blipcast demo`: the main job in one command. One sender and N receivers as
 * separate processes on loopback (interface 127.0.0.1, TTL 0), each receiver
 * dropping a seeded share of what arrives before the protocol sees it; a live
 * line per receiver, then a verdict. Exit 0 when every receiver got every
 * message, in order and intact.
 */

import { spawn, ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { UsageError } from './usage';
import { intOption, parseOptions } from './args';

interface Progress {
  role: 'sender' | 'receiver';
  ready?: boolean;
  done?: boolean;
  delivered?: number;
  lost?: number;
  outOfOrder?: number;
  corrupt?: number;
  elapsedMs?: number;
  written?: number;
  writeMs?: number;
  naksSent?: number;
  naksReceived?: number;
  naksSuppressed?: number;
  repairsSent?: number;
  repairsReceived?: number;
  lossesDeclared?: number;
  lossReasons?: Record<string, number>;
}

const NODE_SCRIPT = join(__dirname, 'demo-node.js');

export async function demo(args: string[], io: { stdout: NodeJS.WritableStream & { isTTY?: boolean }; stderr: NodeJS.WritableStream }): Promise<number> {
  const { values, positionals } = parseOptions('demo', args, { messages: { type: 'string' }, receivers: { type: 'string' }, loss: { type: 'string' }, size: { type: 'string' }, seed: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const count = intOption(values, 'messages', 1, 100_000_000) ?? 100_000;
  const receivers = intOption(values, 'receivers', 1, 32) ?? 3;
  const size = intOption(values, 'size', 1, 1 << 20) ?? 64;
  const seed = intOption(values, 'seed', 0, 2 ** 31) ?? 1;
  const lossRate = values.loss === undefined ? 0.05 : Number(values.loss);
  if (typeof values.loss === 'boolean' || values.loss?.trim() === '' || !(lossRate >= 0 && lossRate < 1)) throw new UsageError(`--loss must be a fraction from 0 up to (not including) 1, e.g. 0.05 (got ${String(values.loss)})`);

  const group = `239.255.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
  io.stdout.write(`blipcast demo: 1 sender → ${receivers} receivers on ${group} (loopback, TTL 0), ${count} messages of ${size} B, ${(lossRate * 100).toFixed(1)}% loss injected at each receiver\n`);

  const children: ChildProcess[] = [];
  const state: Progress[] = [];
  const sender: Progress = { role: 'sender' };
  const failures: string[] = [];
  const stderrTails: string[] = [];
  const start = (argv: string[], onLine: (p: Progress) => void, name: string): Promise<void> => {
    const child = spawn(process.execPath, [NODE_SCRIPT, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          onLine(JSON.parse(line) as Progress);
        } catch {
          /* not a progress line */
        }
      }
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    return new Promise((resolve) => child.on('exit', (code) => {
      if (code !== 0) failures.push(`${name} exited with ${code}: ${err.trim().split('\n').slice(-3).join(' / ')}`);
      stderrTails.push(`${name}: ${err.trim().split('\n').filter((l) => l.startsWith('{') || l.startsWith('loss')).slice(0, 4).join(' / ')}`);
      resolve();
    }));
  };

  const readyCount = { n: 0 };
  const receiverDone: Promise<void>[] = [];
  for (let i = 0; i < receivers; i++) {
    state.push({ role: 'receiver' });
    receiverDone.push(start(['receiver', group, String(count), String(size), String(lossRate), String(seed + i)], (p) => {
      if (p.ready) readyCount.n++;
      else Object.assign(state[i]!, p);
    }, `receiver ${i + 1}`));
  }
  const t0 = Date.now();
  while (readyCount.n < receivers && Date.now() - t0 < 10_000 && failures.length === 0) await new Promise((r) => setTimeout(r, 20));

  const tty = io.stdout.isTTY === true;
  let printed = 0;
  const render = (): void => {
    const lines = state.map((p, i) => {
      const rate = p.elapsedMs ? ((p.delivered ?? 0) / (p.elapsedMs / 1000)) : 0;
      return `  receiver ${i + 1}: ${String(p.delivered ?? 0).padStart(String(count).length)}/${count} delivered  NAKs ${p.naksSent ?? 0} (suppressed ${p.naksSuppressed ?? 0})  repairs ${p.repairsReceived ?? 0}  lost ${p.lost ?? 0}  ${Math.round(rate).toLocaleString('en-US')} msg/s${p.done ? '  ✓' : ''}`;
    });
    lines.push(`  sender    : ${sender.written ?? 0}/${count} written  NAKs received ${sender.naksReceived ?? 0}  repairs sent ${sender.repairsSent ?? 0}`);
    if (tty && printed > 0) io.stdout.write(`\x1b[${printed}A`);
    io.stdout.write(lines.map((l) => (tty ? `\x1b[2K${l}` : l)).join('\n') + '\n');
    printed = lines.length;
  };
  const ticker = setInterval(render, tty ? 200 : 1000);

  const began = performance.now();
  const senderDone = start(['sender', group, String(count), String(size), String(receivers)], (p) => Object.assign(sender, p), 'sender');
  const deadline = setTimeout(() => {
    failures.push('timed out after 120 s');
    for (const c of children) c.kill('SIGKILL');
  }, 120_000);
  await Promise.all([senderDone, ...receiverDone]);
  clearTimeout(deadline);
  clearInterval(ticker);
  render();
  const seconds = (performance.now() - began) / 1000;

  const perfect = state.filter((p) => p.done && p.delivered === count && p.outOfOrder === 0 && p.corrupt === 0).length;
  const naks = state.reduce((s, p) => s + (p.naksSent ?? 0), 0);
  const repairs = sender.repairsSent ?? 0;
  for (const f of failures) io.stderr.write(`blipcast demo: ${f}\n`);
  if (perfect === receivers && failures.length === 0) {
    io.stdout.write(`\n✔ ${count}/${count} messages delivered in order to ${receivers} receivers in ${seconds.toFixed(1)} s (${naks} NAKs sent, ${repairs} repair datagrams, 0 losses)\n`);
    return 0;
  }
  // What each process said about losses and its receivers, to tell why.
  for (const t of stderrTails) io.stderr.write(`${t}\n`);
  const worst = Math.min(...state.map((p) => p.delivered ?? 0));
  io.stdout.write(`\n✘ ${perfect}/${receivers} receivers got everything in order; the worst got ${worst}/${count} (out of order: ${state.map((p) => p.outOfOrder ?? 0).join('/')}, corrupt: ${state.map((p) => p.corrupt ?? 0).join('/')}, lost: ${state.map((p) => p.lost ?? 0).join('/')}, loss reasons: ${state.map((p) => JSON.stringify(p.lossReasons ?? {})).join(' ')})\n`);
  return 1;
}
