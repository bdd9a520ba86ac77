import type { Socket } from 'node:dgram';

/** Binds a node:dgram socket, rejecting with the bind error. */
export function bindSocket(sock: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, address, () => {
      sock.off('error', reject);
      resolve();
    });
  });
}

/** The entry point shared by the benchmark workers: pick the role named in the JSON config, run it, exit. */

export function runWorkerRole<C extends { role: string }>(roles: Record<string, (cfg: C) => Promise<void>>): void {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as C;
  const run = roles[cfg.role];
  if (run === undefined) {
    process.stderr.write(`unknown role ${String(cfg.role)}\n`);
    process.exit(2);
  }
  run(cfg).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
