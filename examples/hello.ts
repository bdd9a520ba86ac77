/**
 * Two channels on one group, on loopback: one writes ten messages, the other
 * reads them, in order, and both close. Run: `node dist/examples/hello.js`.
 */

import { open } from '../src/index';

async function main(): Promise<void> {
  const group = `239.255.0.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
  // Loopback only: interface 127.0.0.1 and TTL 0 keep every datagram on this machine.
  const reader = await open({ group, interface: '127.0.0.1', ttl: 0, lateJoin: 'earliest' });
  const writer = await open({ group, interface: '127.0.0.1', ttl: 0 });
  reader.on('loss', (l) => console.error(`lost ${l.fromSeq}..${l.toSeq} from ${l.source.id}: ${l.reason}`));

  for (let i = 0; i < 10; i++) writer.write(`hello #${i}`);

  let n = 0;
  for await (const msg of reader) {
    console.log(`${msg.source.id} seq ${msg.seq}: ${msg.data.toString()}`);
    if (++n === 10) break;
  }
  await Promise.all([writer.close(), reader.close()]);
  console.log(`transport: ${reader.info.transport}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
