/**
 * The dashboard's WebSocket clients and what each is sent: every snapshot,
 * serialized once for all of them. A client that does not keep up (its
 * socket's `bufferedAmount` over `maxBufferedBytes`: a slow link, a tab in
 * the background, a stopped browser) misses snapshots instead of having them
 * queued for it without bound — the next snapshot it takes supersedes what
 * it missed; one that has not drained for `stalledMs` is disconnected (the
 * page reconnects by itself).
 */

import type { WebSocket } from 'ws';

/** Counters of the fan-out, a copy the caller may keep. */
export interface FanoutStats {
  /** Clients connected now (gauge). */
  clients: number;
  /** Clients ever connected. */
  connections: number;
  /** Snapshots handed to a client's socket. */
  sent: number;
  /** Snapshots not sent to a client because its socket held more than maxBufferedBytes. */
  dropped: number;
  /** Clients disconnected because their socket did not drain for stalledMs. */
  stalled: number;
  /** Bytes queued in the clients' sockets, summed (gauge). */
  bufferedBytes: number;
}

interface Client {
  /** When its socket was first found over the limit in the current run of drops (performance.now() ms), else undefined. */
  overSinceMs: number | undefined;
}

/** WebSocket close code 1001 "going away": the server is shutting down. */
const GOING_AWAY = 1001;
/** How long closeAll() waits for a client to answer the close frame before cutting its connection, ms. */
const CLOSE_HANDSHAKE_MS = 1000;

export class SnapshotFanout {
  private readonly clients = new Map<WebSocket, Client>();
  private readonly counters = { connections: 0, sent: 0, dropped: 0, stalled: 0 };

  /**
   * @param maxBufferedBytes a client whose socket holds more than this misses snapshots (memory per client stays
   *   below this plus one snapshot).
   * @param stalledMs a client that stays over the limit this long is disconnected.
   */
  constructor(private readonly maxBufferedBytes: number, private readonly stalledMs: number) {}

  /** Takes on an open client and sends it `first` (the latest snapshot, as JSON). The client sends nothing that is read. */
  add(ws: WebSocket, first: string): void {
    this.clients.set(ws, { overSinceMs: undefined });
    this.counters.connections++;
    ws.on('close', () => this.clients.delete(ws));
    // A reset connection: 'close' follows; nothing to report to anyone.
    ws.on('error', () => ws.terminate());
    this.send(ws, first);
  }

  /** Sends `text` (one snapshot as JSON) to every client that keeps up. */
  broadcast(nowMs: number, text: string): void {
    for (const [ws, client] of this.clients) {
      if (ws.readyState !== ws.OPEN) continue;
      if (ws.bufferedAmount <= this.maxBufferedBytes) {
        client.overSinceMs = undefined;
        this.send(ws, text);
        continue;
      }
      this.counters.dropped++;
      client.overSinceMs ??= nowMs;
      if (nowMs - client.overSinceMs >= this.stalledMs) {
        this.counters.stalled++;
        // terminate(), not close(): a close frame would queue behind the data that does not drain.
        ws.terminate();
        this.clients.delete(ws);
      }
    }
  }

  private send(ws: WebSocket, text: string): void {
    this.counters.sent++;
    ws.send(text);
  }

  stats(): FanoutStats {
    let bufferedBytes = 0;
    for (const ws of this.clients.keys()) bufferedBytes += ws.bufferedAmount;
    return { clients: this.clients.size, ...this.counters, bufferedBytes };
  }

  /** Says goodbye to every client (close code 1001) and ends their connections; resolves once every one is closed. */
  async closeAll(): Promise<void> {
    const closed = [...this.clients.keys()].map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === ws.CLOSED) return resolve();
          ws.once('close', () => resolve());
          // A client that does not answer the close frame (or cannot take it) is cut off.
          const cut = setTimeout(() => ws.terminate(), CLOSE_HANDSHAKE_MS);
          ws.once('close', () => clearTimeout(cut));
          ws.close(GOING_AWAY, 'dashboard closing');
        }),
    );
    await Promise.all(closed);
    this.clients.clear();
  }
}
