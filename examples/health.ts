/**
 * Who is holding the sender back? On loopback, one sender writes as fast as
 * flow control lets it to two receivers: `fast` reads at once, `slow` pauses
 * every 100 messages. Every second the sender prints its view of its
 * receivers (`channel.receivers()`): how far behind each is, how much it has
 * not read, whether it holds the window. At the end a passive observer
 * (`blipcast/observe`, what `blipcast top` runs) prints its snapshot of the
 * whole group. Run: `node dist/examples/health.js`.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { open, type Channel } from '../src/index';
import { formatSnapshot, watchGroup } from '../src/observe/index';

const options = { group: '239.255.0.11:5011', interface: '127.0.0.1', ttl: 0 } as const;

async function reader(name: string, pauseEvery: number): Promise<Channel> {
  const channel = await open({ ...options, member: { name } });
  channel.on('loss', (l) => {
    // Never expected: 'min' flow control waits for both readers. (It did happen once: test/flow-late-member.test.ts.)
    console.log(`${name} lost ${l.toSeq - l.fromSeq + 1} messages (${l.reason})`);
    process.exitCode = 1;
  });
  void (async () => {
    let n = 0;
    for await (const _ of channel) {
      if (pauseEvery > 0 && ++n % pauseEvery === 0) await sleep(2);
    }
  })();
  return channel;
}

async function main(): Promise<void> {
  const fast = await reader('fast', 0);
  const slow = await reader('slow', 100);
  const observer = await watchGroup({ group: options.group, interface: options.interface, ttl: options.ttl, name: 'example-top' });
  const sender = await open({ ...options, member: { name: 'sender' } });
  await sleep(300); // the members find each other

  const payload = Buffer.alloc(200, 'x');
  let writing = true;
  const writer = (async () => {
    while (writing) if (!sender.write(payload)) await new Promise<void>((resolve) => sender.once('drain', () => resolve()));
  })();

  for (let second = 1; second <= 3; second++) {
    await sleep(1000);
    console.log(`after ${second} s:`);
    for (const r of sender.receivers()) {
      console.log(
        `  ${(r.name ?? r.receiver.id).padEnd(5)} behind ${String(r.lagMessages).padStart(6)} messages, ` +
          `unread ${((r.report?.readBacklogBytes ?? 0) / 1e6).toFixed(1).padStart(5)} MB, ${r.holdsWindow ? 'HOLDS THE WINDOW' : 'keeps up'}`,
      );
    }
  }
  writing = false;
  await writer;
  console.log(formatSnapshot(observer.take()));
  await Promise.all([sender.close(), fast.close(), slow.close(), observer.close()]);
}

void main();
