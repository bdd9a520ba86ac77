/**
 * The cost a key holder can impose through session announcements: every
 * announcement that names a trusted key and is not a repeat of one already
 * verified needs an Ed25519 check, so a receiver spends at most a budget of
 * them per second (src/crypto/verify-budget.ts) and drops the rest unchecked,
 * counted. Sans-IO: SessionVerifier on explicit times. The same through a
 * channel on the simulated network: test/channel-key-memory.test.ts.
 */

import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { ANNOUNCE_VERIFY_BURST, ANNOUNCE_VERIFY_PER_SEC, ANNOUNCE_VERIFY_PER_SESSION_BURST } from '../src/crypto/constants';
import { Announcer, SessionVerifier } from '../src/crypto/announce';
import { SealedReject } from '../src/wire/rejects';
import { DatagramType, HEADER_BYTES, type Header } from '../src/wire/header';

const trusted = generateKeyPairSync('ed25519');
const SELF = { sessionHi: 0xffffffff, sessionLo: 0xffffffff };
const KEY_ID = 1;

function headerOf(sessionLo: number): Header {
  return { type: 7 as DatagramType, flags: 0, keyId: KEY_ID, streamId: 0, sessionHi: 0x1000, sessionLo, sequence: 0, payloadLength: 98 };
}

/** The announcement payload a trusted signer sends for session 0x1000:`sessionLo`. */
function realAnnouncement(sessionLo: number): Buffer {
  const dg = new Announcer(trusted.privateKey, 0x1000, sessionLo).poll(0, KEY_ID)!;
  return Buffer.from(dg.subarray(HEADER_BYTES));
}

/** What a key holder forges: a trusted public key, a signature that does not verify. */
function forgedAnnouncement(sessionLo: number): Buffer {
  const p = realAnnouncement(sessionLo);
  p[40]! ^= 0x01;
  return p;
}

test('forged announcements for fresh sessions get at most the total budget of signature checks; the rest are dropped unchecked and counted', (t) => {
  const v = new SessionVerifier([trusted.publicKey], SELF);
  const codes = new Map<string, number>();
  const startMs = performance.now();
  for (let i = 0; i < 1000; i++) {
    const r = v.handleAnnouncement(0, headerOf(i), forgedAnnouncement(i));
    codes.set(String(r.code), (codes.get(String(r.code)) ?? 0) + 1);
  }
  const elapsedMs = performance.now() - startMs;
  t.log(`1000 forged announcements at once: ${JSON.stringify(Object.fromEntries(codes))} in ${elapsedMs.toFixed(1)} ms`);
  t.is(codes.get(String(SealedReject.BAD_ANNOUNCEMENT)), ANNOUNCE_VERIFY_BURST);
  t.is(codes.get('limited'), 1000 - ANNOUNCE_VERIFY_BURST);
  t.like(v.stats(), { announcementsChecked: ANNOUNCE_VERIFY_BURST, announcementsLimited: 1000 - ANNOUNCE_VERIFY_BURST, sessionsVerified: 0 });

  // Half a second later the bucket holds half a second of the rate again, and no more.
  let checked = 0;
  for (let i = 1000; i < 2000; i++) if (v.handleAnnouncement(500, headerOf(i), forgedAnnouncement(i)).code !== 'limited') checked++;
  t.is(checked, ANNOUNCE_VERIFY_PER_SEC / 2);
});

test('one session repeating forged announcements gets its burst, then one check a second, and leaves the total to the others', (t) => {
  const v = new SessionVerifier([trusted.publicKey], SELF);
  const forged = forgedAnnouncement(1);
  const checksAt = (nowMs: number, n: number): number => {
    let checked = 0;
    for (let i = 0; i < n; i++) if (v.handleAnnouncement(nowMs, headerOf(1), forged).code !== 'limited') checked++;
    return checked;
  };
  t.is(checksAt(0, 100), ANNOUNCE_VERIFY_PER_SESSION_BURST);
  t.is(checksAt(999, 100), 0, 'not a whole token back yet');
  t.is(checksAt(1000, 100), 1);
  t.is(checksAt(3000, 100), 2);
  // Another session, real, verifies at once: the looping one took only its own share.
  const r = v.handleAnnouncement(3000, headerOf(2), realAnnouncement(2));
  t.is(r.code, 0);
  t.true(v.isVerified(0x1000, 2));
});

test('a real announcement that meets a spent budget verifies on the sender\'s next one, and repeats of a verified announcement cost no check', (t) => {
  const v = new SessionVerifier([trusted.publicKey], SELF);
  for (let i = 0; i < ANNOUNCE_VERIFY_BURST; i++) v.handleAnnouncement(0, headerOf(10_000 + i), forgedAnnouncement(10_000 + i));
  const real = realAnnouncement(7);
  t.deepEqual(v.handleAnnouncement(1, headerOf(7), real), { code: 'limited' });
  t.false(v.isVerified(0x1000, 7));
  // The sender repeats its announcement every ANNOUNCE_INTERVAL_MS (1 s): by then the budget has refilled.
  t.is(v.handleAnnouncement(1001, headerOf(7), real).code, 0);
  t.true(v.isVerified(0x1000, 7));
  const checked = v.stats().announcementsChecked;
  for (let i = 0; i < 1000; i++) t.is(v.handleAnnouncement(1001, headerOf(7), real).code, 0);
  t.is(v.stats().announcementsChecked, checked, 'the repeats were compared, not verified');
});

test('announcements that need no signature check (malformed, untrusted key) are not limited and do not spend the budget', (t) => {
  const v = new SessionVerifier([trusted.publicKey], SELF);
  const stranger = generateKeyPairSync('ed25519');
  const untrusted = Buffer.from(new Announcer(stranger.privateKey, 0x1000, 3).poll(0, KEY_ID)!.subarray(HEADER_BYTES));
  for (let i = 0; i < 1000; i++) {
    t.is(v.handleAnnouncement(0, headerOf(3), untrusted).code, SealedReject.UNTRUSTED_SIGNER);
    t.is(v.handleAnnouncement(0, headerOf(3), Buffer.alloc(20)).code, SealedReject.BAD_ANNOUNCEMENT);
  }
  t.like(v.stats(), { announcementsChecked: 0, announcementsLimited: 0 });
  t.is(v.handleAnnouncement(0, headerOf(4), realAnnouncement(4)).code, 0);
});
