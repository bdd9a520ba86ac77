/**
 * The kernel receive buffer: what a socket asking for blipcast's size is
 * granted, against what the sender's rate needs. Pure: the numbers come from
 * a real transport opened by doctor.ts and from /proc/sys/net/core/rmem_max.
 */

import type { CheckResult } from './report';

/**
 * The receive buffer blipcast's channels ask for on real sockets: 8 MiB.
 * Mirrors DEFAULT_RECV_BUFFER_BYTES of src/api/options.ts, which the public
 * API does not export (see docs/doctor.md).
 */
export const BLIPCAST_RECV_BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * How long a receiver may not read its socket while the sender goes on at
 * full rate: a major GC pause or a busy event-loop turn in the application,
 * about 100 ms at worst in practice. Whatever arrives meanwhile must fit in
 * the kernel buffer, or the kernel drops it (SO_RXQ_OVFL counts it) and the
 * receiver has to NAK it back.
 */
export const STALL_MS = 100;

export interface BufferFacts {
  /** What the transport asked for (SO_RCVBUF, or SO_RCVBUFFORCE first on the native transport). */
  requestedBytes: number;
  /** What getsockopt(SO_RCVBUF) reports afterwards. Linux doubles the request for its bookkeeping, so about half holds payload. */
  grantedBytes: number | undefined;
  /** net.core.rmem_max: the most an unprivileged SO_RCVBUF gets; undefined when not readable. */
  rmemMaxBytes: number | undefined;
  /** --rate, bytes per second. */
  rateBytesPerSec: number | undefined;
}

/** 8388608 → '8 MiB', 212992 → '208 KiB'. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} B`;
}

/** Payload the buffer holds: half of what getsockopt reports (the kernel's doubling covers per-datagram overhead). */
export function usableBytes(grantedBytes: number): number {
  return Math.floor(grantedBytes / 2);
}

/** Bytes a stall of {@link STALL_MS} at `rateBytesPerSec` leaves in the buffer. */
export function neededBytes(rateBytesPerSec: number): number {
  return Math.ceil((rateBytesPerSec * STALL_MS) / 1000);
}

/** The rmem_max to set so an unprivileged socket gets `bytes` (rounded up to whole MiB). */
function rmemFix(bytes: number): string {
  const mib = Math.ceil(bytes / (1024 * 1024)) * 1024 * 1024;
  return `sysctl -w net.core.rmem_max=${mib}   (persist it in /etc/sysctl.d/)`;
}

export function checkReceiveBuffer(f: BufferFacts): CheckResult {
  if (f.grantedBytes === undefined) return { name: 'receive-buffer', status: 'skip', detail: 'receive buffer: the transport could not report what the kernel granted' };
  const usable = usableBytes(f.grantedBytes);
  const rmem = f.rmemMaxBytes !== undefined ? `net.core.rmem_max = ${f.rmemMaxBytes}` : 'net.core.rmem_max not readable';
  // The native transport forces its size past rmem_max when it has CAP_NET_ADMIN: say what others would get.
  const forced = f.rmemMaxBytes !== undefined && usable > f.rmemMaxBytes;
  const unprivileged = forced ? ` (past ${rmem}, with CAP_NET_ADMIN; a process without it gets ${formatBytes(f.rmemMaxBytes!)})` : '';
  const holds = `${formatBytes(usable)} granted for ${formatBytes(f.requestedBytes)} asked`;
  if (f.rateBytesPerSec !== undefined) {
    const need = neededBytes(f.rateBytesPerSec);
    const rate = `${formatBytes(f.rateBytesPerSec)}/s`;
    if (usable < need) {
      return {
        name: 'receive-buffer',
        status: 'fail',
        detail: `receive buffer: ${holds} (${rmem}); a ${STALL_MS} ms stall at ${rate} needs ${formatBytes(need)}: the kernel drops the rest and receivers must NAK it back`,
        fix: need > f.requestedBytes ? `${rmemFix(need)}\nand open() with recvBufferBytes: ${need} (the CLI asks ${formatBytes(f.requestedBytes)})` : rmemFix(f.requestedBytes),
      };
    }
    if (forced && f.rmemMaxBytes! < need) {
      return { name: 'receive-buffer', status: 'warn', detail: `receive buffer: ${holds}${unprivileged}; at ${rate} a ${STALL_MS} ms stall needs ${formatBytes(need)}`, fix: rmemFix(Math.min(need, f.requestedBytes)) };
    }
    return { name: 'receive-buffer', status: 'pass', detail: `receive buffer: ${holds}${unprivileged}; holds ${Math.floor((usable / f.rateBytesPerSec) * 1000)} ms at ${rate} (${STALL_MS} ms needed)` };
  }
  const maxRate = `${formatBytes(Math.floor((usable * 1000) / STALL_MS))}/s`;
  if (usable < f.requestedBytes) {
    return {
      name: 'receive-buffer',
      status: 'warn',
      detail: `receive buffer: only ${holds} (${rmem}): above ${maxRate} a ${STALL_MS} ms stall of the reader overflows it`,
      fix: rmemFix(f.requestedBytes),
    };
  }
  return { name: 'receive-buffer', status: 'pass', detail: `receive buffer: ${holds}${unprivileged}; a ${STALL_MS} ms stall fits up to ${maxRate} (pass --rate to check a rate)` };
}
