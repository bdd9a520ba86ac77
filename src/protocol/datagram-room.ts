/**
 * How many fixed-size entries (NAK/NCF ranges, heartbeat and status entries,
 * membership updates) fit in one datagram: the one place that does the
 * arithmetic, so that the encoders' callers and the membership agree on it.
 */

import { HEADER_BYTES } from '../wire/header';

/**
 * Entries of `entryBytes` that fit in a datagram of `maxDatagramBytes` after
 * the header and `fixedBytes` of payload, at most `maxEntries`; 0 when not
 * even one fits.
 */
export function entriesThatFit(maxDatagramBytes: number, fixedBytes: number, entryBytes: number, maxEntries: number): number {
  return Math.max(0, Math.min(maxEntries, Math.floor((maxDatagramBytes - HEADER_BYTES - fixedBytes) / entryBytes)));
}

/**
 * Entries per datagram when a list is split over several: {@link entriesThatFit},
 * but at least 1 so that the split always advances (any maxDatagramBytes the
 * core accepts, MIN_DATAGRAM_BYTES and up, fits one of each control entry).
 */
export function entriesPerDatagram(maxDatagramBytes: number, fixedBytes: number, entryBytes: number, maxEntries: number): number {
  return Math.max(1, entriesThatFit(maxDatagramBytes, fixedBytes, entryBytes, maxEntries));
}
