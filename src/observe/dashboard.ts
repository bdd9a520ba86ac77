/**
 * serveDashboard(): a web page of a group, live. Over node:http it serves
 *
 *   GET /                 the page (src/observe/web/) and /vendor/ uPlot, from memory
 *   GET /snapshot.json    the watcher's latest GroupSnapshot (see pageSnapshot)
 *   GET /ws               WebSocket: the latest snapshot at once, then every snapshot, each one JSON text message
 *
 * and nothing else. It binds only where it is told. Requests naming a host
 * other than an address, `localhost` or the host it listens on are refused
 * (a web page elsewhere cannot read the group through DNS rebinding), and so
 * are WebSocket upgrades from a page of another origin.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { loadAssets, type Assets } from './assets';
import { SnapshotFanout, type FanoutStats } from './fanout';
import { isTroubled } from './format';
import type { GroupSnapshot, ReceiverRow } from './types';

/** Where `blipcast dashboard` listens without --listen: loopback only; 8080, the usual port of a local web tool. */
export const DEFAULT_DASHBOARD_LISTEN = { host: '127.0.0.1', port: 8080 } as const;
/** The WebSocket endpoint's path. */
export const SNAPSHOT_SOCKET_PATH = '/ws';
/**
 * A client whose socket holds more than this misses snapshots, bytes: about a
 * dozen snapshots of a group of a hundred receivers (~80 KiB each as JSON),
 * enough to ride out a short stall without dropping anything.
 */
export const DEFAULT_MAX_CLIENT_BUFFERED_BYTES = 1 << 20;
/** A client over that limit for this long is disconnected, ms: half a minute of missed snapshots shows nothing live. */
export const DEFAULT_CLIENT_STALLED_MS = 30_000;
/** Largest message read from a client, bytes: clients send nothing the dashboard reads. */
const MAX_CLIENT_MESSAGE_BYTES = 1024;

/** What the dashboard needs of a watcher (a GroupWatcher; a test may pass any emitter of snapshots). */
export interface SnapshotSource {
  snapshot(): GroupSnapshot;
  on(event: 'snapshot', listener: (snapshot: GroupSnapshot) => void): unknown;
  off(event: 'snapshot', listener: (snapshot: GroupSnapshot) => void): unknown;
}

export interface DashboardOptions {
  /** Address to bind, e.g. '127.0.0.1' (an IPv6 address without brackets). */
  host: string;
  /** Port to bind; 0 picks a free one (see `url`). */
  port: number;
  /** A WebSocket client whose socket holds more than this many bytes misses snapshots (default 1 MiB). */
  maxClientBufferedBytes?: number;
  /** A client that stays over that limit this long is disconnected, ms (default 30 s). */
  clientStalledMs?: number;
}

/** The dashboard's counters, a copy the caller may keep. */
export interface DashboardStats extends FanoutStats {
  /** HTTP requests answered (upgrades not included). */
  requests: number;
  /** Requests and upgrades refused for their Host or Origin header. */
  refused: number;
}

export interface Dashboard {
  /** 'http://127.0.0.1:8080/': where the page is. */
  readonly url: string;
  stats(): DashboardStats;
  /**
   * Stops listening, says goodbye to every WebSocket client and ends every
   * connection; resolves once all are closed. The watcher is left open: the
   * caller owns it.
   */
  close(): Promise<void>;
}

/** The host of a Host header ('[::1]:8080' → '::1', 'example:80' → 'example'). */
function hostOf(header: string): string {
  if (header.startsWith('[')) return header.slice(1, header.indexOf(']'));
  const colon = header.lastIndexOf(':');
  return (colon === -1 ? header : header.slice(0, colon)).toLowerCase();
}

/** A Host a browser names when it really means this machine (or this server's own name): not a rebound DNS name. */
function hostAllowed(header: string | undefined, listenHost: string): boolean {
  if (header === undefined) return false;
  const host = hostOf(header);
  return isIP(host) !== 0 || host === 'localhost' || host.endsWith('.localhost') || host === listenHost.toLowerCase();
}

/** A WebSocket upgrade from a page served by this dashboard (or from no page at all: a tool, a test). */
function originAllowed(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function formatUrl(address: AddressInfo): string {
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`;
}

/** A receiver row as the page gets it: also whether `top` marks it with '!' (so that the page holds no rule of its own). */
export interface PageReceiverRow extends ReceiverRow {
  troubled: boolean;
}

/** A snapshot as /snapshot.json and the WebSocket send it: a GroupSnapshot whose receivers say whether they need a look. */
export function pageSnapshot(snapshot: GroupSnapshot): string {
  return JSON.stringify({ ...snapshot, receivers: snapshot.receivers.map((r): PageReceiverRow => ({ ...r, troubled: isTroubled(r) })) });
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  // uPlot sizes its elements through inline styles; everything else comes from this server.
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
};

class DashboardServer implements Dashboard {
  private readonly fanout: SnapshotFanout;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false });
  private readonly counters = { requests: 0, refused: 0 };
  private readonly onSnapshot = (snapshot: GroupSnapshot): void => this.fanout.broadcast(performance.now(), pageSnapshot(snapshot));
  private closing: Promise<void> | undefined;

  constructor(
    readonly url: string,
    private readonly source: SnapshotSource,
    private readonly server: Server,
    private readonly assets: Assets,
    private readonly host: string,
    options: DashboardOptions,
  ) {
    this.fanout = new SnapshotFanout(options.maxClientBufferedBytes ?? DEFAULT_MAX_CLIENT_BUFFERED_BYTES, options.clientStalledMs ?? DEFAULT_CLIENT_STALLED_MS);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handleRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.handleUpgrade(req, socket, head));
    source.on('snapshot', this.onSnapshot);
  }

  private handleRequest(req: IncomingMessage, res: ServerResponse): void {
    this.counters.requests++;
    if (!hostAllowed(req.headers.host, this.host)) {
      this.counters.refused++;
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('unknown Host\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    const path = (req.url ?? '/').split('?', 1)[0]!;
    let body: Buffer | string;
    let contentType: string;
    if (path === '/snapshot.json') {
      body = pageSnapshot(this.source.snapshot());
      contentType = 'application/json; charset=utf-8';
    } else {
      const asset = this.assets.get(path);
      if (asset === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
        return;
      }
      ({ body, contentType } = asset);
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    const refuse = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (this.closing !== undefined) return refuse('503 Service Unavailable');
    if (path !== SNAPSHOT_SOCKET_PATH) return refuse('404 Not Found');
    if (!hostAllowed(req.headers.host, this.host) || !originAllowed(req)) {
      this.counters.refused++;
      return refuse('403 Forbidden');
    }
    socket.on('error', () => socket.destroy());
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.closing !== undefined) return ws.terminate();
      this.fanout.add(ws, pageSnapshot(this.source.snapshot()));
    });
  }

  stats(): DashboardStats {
    return { ...this.fanout.stats(), ...this.counters };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.source.off('snapshot', this.onSnapshot);
      const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      // Idle keep-alive connections would hold close() open until they time out.
      this.server.closeIdleConnections();
      await this.fanout.closeAll();
      await new Promise<void>((resolve) => this.wss.close(() => resolve()));
      this.server.closeAllConnections();
      await serverClosed;
    })();
    return this.closing;
  }
}

/**
 * Serves `source`'s snapshots on `options.host`:`options.port` (see the file's
 * comment for what is served). Resolves once listening.
 * @throws when the page's files cannot be read or the address cannot be bound (EADDRINUSE, EADDRNOTAVAIL): nothing is left open.
 */
export async function serveDashboard(source: SnapshotSource, options: DashboardOptions): Promise<Dashboard> {
  const assets = await loadAssets();
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  return new DashboardServer(formatUrl(server.address() as AddressInfo), source, server, assets, options.host, options);
}
