/**
 * blipcast/bus on the simulated network (deterministic: seeded network,
 * seeded channels, virtual time): request/reply with its failover, gather
 * and its summary, both under 20 % loss, task acquisition with crashed and
 * paused workers, replicas, failures, back-pressure and fairness, and the
 * option checks. Each test checks what a user of the bus would.
 */

import test, { type ExecutionContext } from 'ava';
import { AbortError, ClosedError, InvalidArgumentTypeError, InvalidArgumentValueError } from '../src/index';
import { open, type OpenOptions } from '../src/api/channel';
import { openBusWith } from '../src/bus/bus';
import { BacklogFullError, BusTimeoutError, NoServerError, ReconcileError, RemoteError, TaskFailedError } from '../src/bus/errors';
import { MAX_PAYLOAD_BYTES, score } from '../src/bus/payload';
import type { Bus, BusPeer, BusReply, GatherSummary, TaskResult } from '../src/bus/types';
import { BusLab, DISCOVERY_MS } from './fixtures/bus-memory';
import { GROUP } from './helpers/channel-memory';

/** The server a request goes to first: the highest rendezvous score of `requester/number/server` (requester.ts). */
function rendezvous(requestId: string, servers: readonly BusPeer[]): BusPeer {
  return [...servers].sort((a, b) => score(`${requestId}/${b.id}`) - score(`${requestId}/${a.id}`))[0]!;
}

function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

const names = (peers: readonly BusPeer[]): string[] => peers.map((p) => p.name).sort();

/** `BUS_SEED=n` runs every scenario under other seeds than the suite's (a sweep for rare failures). */
const SEED_SUFFIX = process.env['BUS_SEED'] === undefined ? '' : `#${process.env['BUS_SEED']}`;

async function withLab(t: ExecutionContext, seed: string, fn: (lab: BusLab) => Promise<void>, link?: ConstructorParameters<typeof BusLab>[1]): Promise<void> {
  const lab = new BusLab(seed + SEED_SUFFIX, link);
  try {
    await fn(lab);
  } finally {
    await lab.close();
  }
  t.pass();
}

// ---- request / reply ----

test.serial('a request gets the handler\'s exact bytes back, from the server that ran it, at the first attempt', async (t) => {
  await withLab(t, 'req-bytes', async (lab) => {
    const ran: string[] = [];
    const [client, ...servers] = await lab.members(['client', 's1', 's2', 's3']);
    for (const s of servers) {
      s.serve('reverse', (req) => {
        ran.push(s.name);
        t.is(req.kind, 'request');
        t.is(req.from.name, 'client');
        t.regex(req.id, new RegExp(`^${client!.id}/\\d+$`));
        return Buffer.from(req.data).reverse();
      });
    }
    await lab.serversKnown([client!], 'reverse', 3);
    const payload = Buffer.alloc(3000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const reply = await lab.settle(client!.request('reverse', payload));
    t.deepEqual(reply.data, Buffer.from(payload).reverse());
    t.is(reply.attempt, 1);
    t.deepEqual(ran, [reply.from.name]);
    const text = await lab.settle(client!.request('reverse', 'héllo'));
    t.deepEqual(text.data, Buffer.from('héllo', 'utf8').reverse()); // a string goes as UTF-8
    const empty = await lab.settle(client!.request('reverse'));
    t.is(empty.data.length, 0);
    t.like(client!.stats(), { requestsSent: 3, requestsFailedOver: 0, repliesReceived: 3, repliesLate: 0 });
  });
});

test.serial('requests go to the rendezvous choice among the servers, evenly spread over 300 requests', async (t) => {
  await withLab(t, 'req-rendezvous', async (lab) => {
    const [client, ...servers] = await lab.members(['client', 's1', 's2', 's3']);
    const wrong: string[] = [];
    const served = new Map<string, number>();
    for (const s of servers) {
      s.serve('who', (req) => {
        const expected = rendezvous(req.id, client!.servers('who'));
        if (expected.id !== s.id) wrong.push(`${req.id} ran on ${s.name}, rendezvous says ${expected.name}`);
        served.set(s.name, (served.get(s.name) ?? 0) + 1);
        return s.name;
      });
    }
    await lab.serversKnown([client!], 'who', 3);
    const replies = await lab.settle(Promise.all(Array.from({ length: 300 }, () => client!.request('who'))));
    t.deepEqual(wrong, []);
    t.true(replies.every((r) => r.attempt === 1 && r.data.toString() === r.from.name));
    t.log('requests per server', Object.fromEntries(served));
    t.deepEqual([...served.keys()].sort(), ['s1', 's2', 's3']);
    for (const [name, n] of served) t.true(n >= 70 && n <= 130, `${name} served ${n} of 300`);
  });
});

for (const raceWinner of ['attempt timeout', 'death'] as const) {
  test.serial(`a server that crashes mid-request: the request completes on another server after the ${raceWinner}`, async (t) => {
    await withLab(t, `req-crash-${raceWinner}`, async (lab) => {
      const [client, ...servers] = await lab.members(['client', 's1', 's2', 's3']);
      let victim: Bus | undefined;
      const ids: string[] = [];
      for (const s of servers) {
        s.serve('work', (req) => {
          ids.push(req.id);
          if (victim === undefined) {
            victim = s;
            lab.crash(s.name); // dies holding the request: no reply, no leave
            return never();
          }
          return `${s.name}:${req.data.toString()}`;
        });
      }
      await lab.serversKnown([client!], 'work', 3);
      let deadAtMs: number | undefined;
      client!.channel.group!.on('dead', (m) => (deadAtMs ??= lab.nowMs));
      const deadBoundMs = client!.channel.group!.timers().deadBoundMs;
      const attemptTimeoutMs = raceWinner === 'attempt timeout' ? 300 : 5 * deadBoundMs;
      const startMs = lab.nowMs;
      const reply = await lab.settle(client!.request('work', 'x', { attemptTimeoutMs, timeoutMs: 10 * deadBoundMs }));
      const tookMs = lab.nowMs - startMs;
      t.not(reply.from.id, victim!.id);
      t.is(reply.data.toString(), `${reply.from.name}:x`);
      t.is(reply.attempt, 2);
      t.is(ids.length, 2);
      t.is(ids[0], ids[1]); // the same request id on the second server
      t.is(client!.stats().requestsFailedOver, 1);
      t.log(`completed after ${tookMs} ms (attempt timeout ${attemptTimeoutMs} ms, death declared ${deadAtMs === undefined ? 'not yet' : `at +${deadAtMs - startMs} ms`}, bound ${deadBoundMs} ms)`);
      if (raceWinner === 'attempt timeout') {
        t.true(tookMs >= attemptTimeoutMs && tookMs < attemptTimeoutMs + 20, `took ${tookMs} ms`);
        t.is(deadAtMs, undefined);
      } else {
        t.not(deadAtMs, undefined);
        t.true(deadAtMs! - startMs <= deadBoundMs);
        t.true(lab.nowMs - deadAtMs! < 20, `answered ${lab.nowMs - deadAtMs!} ms after the death`);
      }
    });
  });
}

test.serial('a server that leaves (close) mid-request: the request fails over at once', async (t) => {
  await withLab(t, 'req-leave', async (lab) => {
    const [client, ...servers] = await lab.members(['client', 's1', 's2', 's3']);
    let leaver: Bus | undefined;
    for (const s of servers) {
      s.serve('work', (req) => {
        if (leaver === undefined) {
          leaver = s;
          void s.close();
          return never();
        }
        return s.name;
      });
    }
    await lab.serversKnown([client!], 'work', 3);
    const { value: reply, ms } = await lab.outcome(client!.request('work', 'x', { attemptTimeoutMs: 4000, timeoutMs: 8000 }));
    t.truthy(reply);
    t.not(reply!.from.id, leaver!.id);
    t.is(reply!.attempt, 2);
    t.true(ms < 200, `failed over after ${ms} ms`);
  });
});

test.serial('an answer larger than one message fails the handler: the requester gets RemoteError saying so, not a timeout', async (t) => {
  await withLab(t, 'req-too-big', async (lab) => {
    const [client, server] = await lab.members(['client', 's1']);
    server!.serve('huge', () => Buffer.alloc(MAX_PAYLOAD_BYTES + 1));
    await lab.serversKnown([client!], 'huge', 1);
    const { error } = await lab.outcome(client!.request('huge', 'x'));
    t.true(error instanceof RemoteError, String(error));
    t.regex((error as RemoteError).remoteMessage, /answer must be at most \d+ bytes, got \d+/);
  });
});

test.serial('a handler that throws: the request rejects with RemoteError carrying the message and the server, no failover', async (t) => {
  await withLab(t, 'req-throws', async (lab) => {
    const [client, ...servers] = await lab.members(['client', 's1', 's2']);
    let calls = 0;
    for (const s of servers) {
      s.serve('fail', async () => {
        calls++;
        await lab.sleep(5);
        throw new Error(`disk full on ${s.name}`);
      });
    }
    await lab.serversKnown([client!], 'fail', 2);
    const { error } = await lab.outcome(client!.request('fail', 'x'));
    t.true(error instanceof RemoteError);
    const e = error as RemoteError;
    t.is(e.code, 'BLIPCAST_BUS_REMOTE_ERROR');
    t.is(e.remoteMessage, `disk full on ${e.server.name}`);
    t.true(servers.some((s) => s.id === e.server.id));
    t.is(e.subject, 'fail');
    t.is(calls, 1);
    t.is(client!.stats().requestsFailedOver, 0);
  });
});

test.serial('no server of the subject: NoServerError once discovery is over, at once after it', async (t) => {
  await withLab(t, 'req-none', async (lab) => {
    const [client, other] = await lab.members(['client', 'other']);
    other!.serve('something-else', () => 'x');
    const openedMs = lab.nowMs;
    const first = await lab.outcome(client!.request('nobody', 'x'));
    t.true(first.error instanceof NoServerError, String(first.error));
    t.is((first.error as NoServerError).code, 'BLIPCAST_BUS_NO_SERVER');
    t.true(lab.nowMs - openedMs <= DISCOVERY_MS + 5, `rejected ${lab.nowMs - openedMs} ms after opening`);
    const again = await lab.outcome(client!.request('nobody', 'x'));
    t.true(again.error instanceof NoServerError);
    t.true(again.ms <= 1, `took ${again.ms} ms`); // settle() looks after one step of the clock
  });
});

test.serial('a request nobody answers: BusTimeoutError after timeoutMs, naming the servers asked in order', async (t) => {
  await withLab(t, 'req-timeout', async (lab) => {
    const [client, ...servers] = await lab.members(['client', 's1', 's2']);
    const asked: string[] = [];
    for (const s of servers) {
      s.serve('slow', () => {
        asked.push(s.name);
        return never();
      });
    }
    await lab.serversKnown([client!], 'slow', 2);
    const { error, ms } = await lab.outcome(client!.request('slow', 'x', { timeoutMs: 1000, attemptTimeoutMs: 400 }));
    t.true(error instanceof BusTimeoutError, String(error));
    const e = error as BusTimeoutError;
    t.is(e.code, 'BLIPCAST_BUS_TIMEOUT');
    t.is(e.timeoutMs, 1000);
    t.is(ms, 1000);
    t.deepEqual(e.tried.map((p) => p.name), asked);
    t.deepEqual([...asked].sort(), ['s1', 's2']);
    t.regex(e.message, new RegExp(`asked ${asked[0]}, ${asked[1]}`));
  });
});

test.serial('a request whose signal aborts rejects with AbortError; an aborted signal rejects at once', async (t) => {
  await withLab(t, 'req-abort', async (lab) => {
    const [client, server] = await lab.members(['client', 's1']);
    server!.serve('slow', () => never());
    await lab.serversKnown([client!], 'slow', 1);
    const ac = new AbortController();
    const pending = client!.request('slow', 'x', { signal: ac.signal });
    lab.net.setTimer(() => ac.abort(), 50);
    const { error, ms } = await lab.outcome(pending);
    t.true(error instanceof AbortError, String(error));
    t.is(ms, 50);
    const { error: early } = await lab.outcome(client!.request('slow', 'x', { signal: AbortSignal.abort() }));
    t.true(early instanceof AbortError);
  });
});

test.serial('closing the bus rejects its pending requests and submits with ClosedError, ends its gathers, and refuses later calls', async (t) => {
  await withLab(t, 'req-close', async (lab) => {
    const [client, server] = await lab.members(['client', 's1']);
    server!.serve('slow', () => never());
    server!.work('slow', () => never());
    await lab.serversKnown([client!], 'slow', 1);
    await lab.workersKnown([client!], 'slow', 1);
    const pending = lab.outcome(client!.request('slow', 'x'));
    const task = lab.outcome(client!.submit('slow', 'x'));
    const g = gathered(lab, client!.gather('slow', 'x', { expect: 1 }));
    await lab.run(10);
    void client!.close();
    const { error } = await pending;
    t.true(error instanceof ClosedError, String(error));
    t.is(error!.message, 'bus is closed');
    t.true((await task).error instanceof ClosedError);
    const { replies, summary } = await g;
    t.is(summary.ended, 'aborted');
    t.deepEqual(replies, []);
    await t.throwsAsync(client!.request('slow', 'x'), { instanceOf: ClosedError });
    t.throws(() => client!.serve('x', () => 'y'), { instanceOf: ClosedError });
  });
});

test.serial('an overloaded server (concurrency 1, maxQueued 0) answers "overloaded" and the request goes to the other one at once', async (t) => {
  await withLab(t, 'req-overload', async (lab) => {
    const [client, ...servers] = await lab.members(['client', 's1', 's2']);
    let busy: Bus | undefined;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    for (const s of servers) {
      s.serve('one', async () => {
        if (busy === undefined) {
          busy = s;
          await released;
        }
        return s.name;
      }, { concurrency: 1, maxQueued: 0 });
    }
    await lab.serversKnown([client!], 'one', 2);
    const first = client!.request('one', 'x', { timeoutMs: 20_000 });
    await lab.until(() => busy !== undefined);
    // One at a time: the free server has one slot too.
    const replies: BusReply[] = [];
    for (let i = 0; i < 20; i++) {
      const { value, ms } = await lab.outcome(client!.request('one', 'x', { timeoutMs: 10_000 }));
      t.true(ms < 10, `request ${i} took ${ms} ms`);
      replies.push(value!);
    }
    t.true(replies.every((r) => r.from.id !== busy!.id && r.data.toString() === r.from.name));
    const failedOver = replies.filter((r) => r.attempt === 2).length;
    t.log(`${failedOver} of 20 requests went to the busy server first`);
    t.true(failedOver > 0);
    t.is(busy!.stats().requestsRefused, failedOver);
    t.is(client!.stats().requestsFailedOver, failedOver);
    release();
    const r1 = await lab.settle(first);
    t.is(r1.from.id, busy!.id);
  });
});

test.serial('every server overloaded: the request asks them again after a back-off and gets its answer once one is free, before its deadline', async (t) => {
  await withLab(t, 'req-all-busy', async (lab) => {
    const [client, server] = await lab.members(['client', 's1']);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    server!.serve('one', async (req) => {
      calls++;
      if (req.data.toString() === 'hold') await released;
      return `done ${req.data}`;
    }, { concurrency: 1, maxQueued: 0 });
    await lab.serversKnown([client!], 'one', 1);
    const held = client!.request('one', 'hold', { timeoutMs: 20_000 });
    await lab.until(() => calls === 1);
    const second = client!.request('one', 'next', { timeoutMs: 10_000 });
    await lab.run(300); // refused, asked again (20, 40, 80, 160 ms back-off), refused again
    t.true(server!.stats().requestsRefused >= 2, `refused ${server!.stats().requestsRefused}`);
    release();
    const { value, ms, error } = await lab.outcome(second);
    t.is(error, undefined);
    t.is(value!.data.toString(), 'done next');
    t.true(ms < 600, `answered ${ms} ms after the server was free`);
    t.is((await lab.settle(held)).data.toString(), 'done hold');
  });
});

// ---- gather ----

/** Reads the gather to its end while the network runs; returns the replies and the summary. */
async function gathered(lab: BusLab, g: ReturnType<Bus['gather']>): Promise<{ replies: BusReply[]; summary: GatherSummary }> {
  const replies: BusReply[] = [];
  const reading = (async () => {
    for await (const r of g) replies.push(r);
  })();
  const summary = await lab.settle(g.summary);
  await lab.settle(reading);
  return { replies, summary };
}

const HOSTS5 = ['s1', 's2', 's3', 's4', 's5'];

test.serial('a gather to 5 servers yields the 5 answers and a complete summary', async (t) => {
  await withLab(t, 'gather-all', async (lab) => {
    const [client, ...servers] = await lab.members(['client', ...HOSTS5]);
    servers.forEach((s, i) => s.serve('status', async (req) => {
      t.is(req.kind, 'gather');
      await lab.sleep(10 * (i + 1));
      return `${s.name}:${req.data.toString()}`;
    }));
    await lab.serversKnown([client!], 'status', 5);
    await lab.run(DISCOVERY_MS);
    const { replies, summary } = await gathered(lab, client!.gather('status', 'q', { deadlineMs: 2000 }));
    t.deepEqual(replies.map((r) => r.data.toString()), HOSTS5.map((h) => `${h}:q`)); // in the order they answered
    t.true(replies.every((r) => r.attempt === 1 && r.data.toString().startsWith(`${r.from.name}:`)));
    t.is(summary.ended, 'complete');
    t.deepEqual(names(summary.expected), HOSTS5);
    t.deepEqual(summary.replied.map((p) => p.name), HOSTS5);
    t.deepEqual(summary.missing, []);
    t.true(summary.durationMs >= 50 && summary.durationMs < 60, `took ${summary.durationMs} ms`);
    t.like(client!.stats(), { gathersSent: 1, repliesReceived: 5 });
  });
});

test.serial('a server that crashes mid-gather is reported dead as soon as the group declares it, before the deadline', async (t) => {
  await withLab(t, 'gather-crash', async (lab) => {
    const [client, ...servers] = await lab.members(['client', ...HOSTS5]);
    let victim: Bus | undefined;
    for (const s of servers) {
      s.serve('status', () => {
        if (s.name === 's3') {
          victim = s;
          lab.crash(s.name);
          return never();
        }
        return s.name;
      });
    }
    await lab.serversKnown([client!], 'status', 5);
    await lab.run(DISCOVERY_MS);
    let deadAtMs: number | undefined;
    client!.channel.group!.on('dead', () => (deadAtMs ??= lab.nowMs));
    const deadlineMs = 10_000;
    const startMs = lab.nowMs;
    const { replies, summary } = await gathered(lab, client!.gather('status', 'q', { deadlineMs }));
    t.is(victim?.name, 's3');
    t.deepEqual(names(replies.map((r) => r.from)), ['s1', 's2', 's4', 's5']);
    t.deepEqual(summary.missing, [{ member: { id: victim!.id, name: 's3' }, reason: 'dead' }]);
    t.is(summary.ended, 'complete'); // nobody left to wait for
    t.not(deadAtMs, undefined);
    t.is(summary.durationMs, deadAtMs! - startMs);
    t.true(summary.durationMs <= client!.channel.group!.timers().deadBoundMs, `took ${summary.durationMs} ms`);
    t.log(`s3 reported dead after ${summary.durationMs} ms (deadline ${deadlineMs} ms)`);
  });
});

test.serial('a server cut off from the requester is reported "timeout" at the deadline', async (t) => {
  await withLab(t, 'gather-partition', async (lab) => {
    const [client, ...servers] = await lab.members(['client', ...HOSTS5]);
    for (const s of servers) s.serve('status', () => s.name);
    await lab.serversKnown([client!], 'status', 5);
    await lab.run(DISCOVERY_MS);
    lab.cutOff('s4');
    const { replies, summary } = await gathered(lab, client!.gather('status', 'q', { deadlineMs: 300 }));
    t.deepEqual(names(replies.map((r) => r.from)), ['s1', 's2', 's3', 's5']);
    t.is(summary.ended, 'deadline');
    t.is(summary.durationMs, 300);
    t.deepEqual(summary.missing.map((m) => [m.member.name, m.reason]), [['s4', 'timeout']]);
    t.is(client!.channel.group!.members().length, 6); // still a member as far as the group knows
  });
});

test.serial('a handler that throws in a gather is reported "error" with its message; the others\' answers come', async (t) => {
  await withLab(t, 'gather-error', async (lab) => {
    const [client, ...servers] = await lab.members(['client', 's1', 's2', 's3']);
    for (const s of servers) {
      s.serve('status', () => {
        if (s.name === 's2') throw new Error('no stats on s2');
        return s.name;
      });
    }
    await lab.serversKnown([client!], 'status', 3);
    await lab.run(DISCOVERY_MS);
    const { replies, summary } = await gathered(lab, client!.gather('status', 'q', { deadlineMs: 2000 }));
    t.deepEqual(names(replies.map((r) => r.from)), ['s1', 's3']);
    t.is(summary.ended, 'complete');
    t.deepEqual(summary.missing.map((m) => [m.member.name, m.reason, m.message]), [['s2', 'error', 'no stats on s2']]);
    t.true(summary.durationMs < 10);
  });
});

test.serial('a server that joins during a gather is not waited for', async (t) => {
  await withLab(t, 'gather-join', async (lab) => {
    const [client, ...servers] = await lab.members(['client', 's1', 's2', 's3']);
    for (const s of servers) {
      s.serve('status', async () => {
        await lab.sleep(1000);
        return s.name;
      });
    }
    await lab.serversKnown([client!], 'status', 3);
    await lab.run(DISCOVERY_MS);
    const g = client!.gather('status', 'q', { deadlineMs: 5000 });
    const result = gathered(lab, g);
    const late = await lab.member('late');
    late.serve('status', () => 'late');
    await lab.serversKnown([client!], 'status', 4); // known to the requester mid-gather
    const joinedAtMs = lab.nowMs;
    const { replies, summary } = await result;
    t.true(joinedAtMs < lab.nowMs);
    t.is(summary.ended, 'complete');
    t.deepEqual(names(summary.expected), ['s1', 's2', 's3']);
    t.deepEqual(names(replies.map((r) => r.from)), ['s1', 's2', 's3']);
    t.deepEqual(summary.missing, []);
    t.true(summary.durationMs >= 1000 && summary.durationMs < 1010, `took ${summary.durationMs} ms`);
  });
});

test.serial('a gather expecting 2 ends with the first 2 answers', async (t) => {
  await withLab(t, 'gather-expect', async (lab) => {
    const [client, ...servers] = await lab.members(['client', 's1', 's2', 's3', 's4']);
    servers.forEach((s, i) => s.serve('status', async () => {
      await lab.sleep(100 * (i + 1));
      return s.name;
    }));
    await lab.serversKnown([client!], 'status', 4);
    await lab.run(DISCOVERY_MS);
    const { replies, summary } = await gathered(lab, client!.gather('status', 'q', { expect: 2, deadlineMs: 5000 }));
    t.deepEqual(replies.map((r) => r.from.name), ['s1', 's2']);
    t.is(summary.ended, 'complete');
    t.true(summary.durationMs >= 200 && summary.durationMs < 210, `took ${summary.durationMs} ms`);
    await lab.run(300);
    t.is(client!.stats().repliesLate, 2); // s3's and s4's answers came after the end
  });
});

// ---- loss ----

test.serial('under 20 % loss on every link, 200 requests and a 5-member gather all complete with the right answers', async (t) => {
  await withLab(t, 'loss-20', async (lab) => {
    const [client, ...servers] = await lab.members(['client', ...HOSTS5]);
    for (const s of servers) {
      s.serve('square', (req) => String(Number(req.data.toString()) ** 2));
      s.serve('status', (req) => `${s.name}:${req.data.toString()}`);
    }
    await lab.serversKnown([client!], 'status', 5);
    await lab.serversKnown([client!], 'square', 5);
    await lab.run(DISCOVERY_MS);
    const startMs = lab.nowMs;
    const replies: BusReply[] = [];
    for (let batch = 0; batch < 10; batch++) {
      replies.push(...await lab.settle(Promise.all(Array.from({ length: 20 }, (_, i) => client!.request('square', String(batch * 20 + i))))));
    }
    t.deepEqual(replies.map((r) => r.data.toString()), Array.from({ length: 200 }, (_, i) => String(i * i)));
    const requestsMs = lab.nowMs - startMs;
    const { replies: all, summary } = await gathered(lab, client!.gather('status', 'q', { deadlineMs: 5000 }));
    t.is(summary.ended, 'complete');
    t.deepEqual(names(all.map((r) => r.from)), HOSTS5);
    t.true(all.every((r) => r.data.toString() === `${r.from.name}:q`));
    const links = lab.net.totalLinkStats();
    t.true(links.dropped / links.datagrams > 0.18, `lost ${links.dropped} of ${links.datagrams}`);
    const s = client!.stats();
    t.log(`200 requests in ${requestsMs} ms, ${s.requestsFailedOver} failed over, ${s.repliesLate} late replies; gather ${summary.durationMs} ms; ${links.dropped} of ${links.datagrams} datagrams lost`);
  }, { lossRate: 0.2 });
});

// ---- tasks ----

test.serial('1,000 tasks over 5 workers, two crashed mid-task: every submit resolves once with its result, some tasks ran twice', async (t) => {
  await withLab(t, 'tasks-1000', async (lab) => {
    const capacities = [2, 3, 4, 2, 3];
    const [client, ...workers] = await lab.members(['client', 'w1', 'w2', 'w3', 'w4', 'w5']);
    const crashAfter = new Map([['w2', 30], ['w4', 90]]); // crashes while starting its n-th task
    const crashed = new Map<string, { atMs: number; running: number }>();
    const started = new Map<string, number>();
    const running = new Map<string, number>();
    const executions = new Map<string, number>();
    workers.forEach((w, i) => w.work('jobs', async (task) => {
      if (crashed.has(w.name)) return never(); // a dead process runs nothing
      executions.set(task.id, (executions.get(task.id) ?? 0) + 1);
      started.set(w.name, (started.get(w.name) ?? 0) + 1);
      running.set(w.name, (running.get(w.name) ?? 0) + 1);
      if (started.get(w.name) === crashAfter.get(w.name)) {
        crashed.set(w.name, { atMs: lab.nowMs, running: running.get(w.name)! });
        lab.crash(w.name);
      }
      const n = Number(task.data.toString());
      await lab.sleep(20 + (n % 5) * 10);
      if (crashed.has(w.name)) return never();
      running.set(w.name, running.get(w.name)! - 1);
      return String(n * 3);
    }, { capacity: capacities[i] }));
    await lab.workersKnown([client!], 'jobs', 5);
    await lab.run(DISCOVERY_MS);
    const startMs = lab.nowMs;
    const resolutions = new Array<number>(1000).fill(0);
    const acceptedAtMs = new Array<number>(1000).fill(0);
    const results = await lab.settle(Promise.all(Array.from({ length: 1000 }, (_, i) => client!.submit('jobs', String(i), { leaseMs: 300 }).then((r) => {
      resolutions[i]!++;
      acceptedAtMs[i] = lab.nowMs;
      return r;
    }))), 60_000);
    const tookMs = lab.nowMs - startMs;
    t.deepEqual(results.map((r) => r.data.toString()), Array.from({ length: 1000 }, (_, i) => String(i * 3)));
    t.true(resolutions.every((n) => n === 1));
    t.deepEqual([...crashed.keys()].sort(), ['w2', 'w4']);
    const lost = [...crashed.values()].reduce((sum, c) => sum + c.running, 0);
    const total = [...executions.values()].reduce((a, b) => a + b, 0);
    t.is(executions.size, 1000);
    t.true(total >= 1000 + lost, `${total} executions, ${lost} lost in the crashes`);
    const s = client!.stats();
    t.like(s, { tasksSubmitted: 1000, tasksCompleted: 1000, tasksFailed: 0, tasksPending: 0, tasksInFlight: 0 });
    t.true(s.leasesExpired > 0 && s.tasksReoffered >= lost, `leases expired ${s.leasesExpired}, re-offered ${s.tasksReoffered}`);
    t.true(results.filter((r) => r.attempts > 1).length >= lost);
    // After its crash, no result of a crashed worker was accepted.
    for (const [name, c] of crashed) {
      const after = results.filter((r, i) => r.workers[0]!.name === name && acceptedAtMs[i]! > c.atMs + 1);
      t.is(after.length, 0, `${name}: ${after.length} results accepted after its crash`);
    }
    for (const [name, c] of crashed) t.log(`${name} crashed at +${c.atMs - startMs} ms running ${c.running} task(s)`);
    t.log(`1,000 tasks in ${tookMs} ms: ${total} executions, ${s.leasesExpired} leases expired, ${s.tasksReoffered} re-offered, ${s.resultsLate} late results, ${s.awardsRefused} awards refused`);
  });
});

/** Membership slow enough that a worker cut off for 700 ms is suspected at most, not declared dead. */
const PATIENT_MEMBERSHIP = { probeIntervalMs: 500, probeTimeoutMs: 100, announceIntervalMs: 100 };

test.serial('a worker paused past its lease: the task goes to the other worker, whose result counts; the late one is discarded and counted', async (t) => {
  await withLab(t, 'tasks-paused', async (lab) => {
    const [client, ...workers] = await lab.members(['client', 'wa', 'wb'], {}, PATIENT_MEMBERSHIP);
    let paused: Bus | undefined;
    const ran: string[] = [];
    const seen: [string, number][] = [];
    for (const w of workers) {
      w.work('jobs', async (task) => {
        ran.push(w.name);
        seen.push([task.id, task.attempt]);
        if (paused === undefined) {
          paused = w;
          lab.cutOff(w.name);
          lab.net.setTimer(() => lab.heal(), 700);
          await lab.sleep(500); // finishes while cut off: its result leaves when the link comes back
        } else {
          await lab.sleep(50);
        }
        return `${w.name}:${task.data.toString()}`;
      });
    }
    await lab.workersKnown([client!], 'jobs', 2);
    await lab.run(DISCOVERY_MS);
    const result = await lab.settle(client!.submit('jobs', 'T', { leaseMs: 300 }));
    const other = workers.find((w) => w !== paused)!;
    t.is(result.data.toString(), `${other.name}:T`);
    t.deepEqual(result.workers.map((p) => p.name), [other.name]);
    t.is(result.attempts, 2);
    t.deepEqual(ran, [paused!.name, other.name]); // at least once: both ran it
    t.deepEqual(seen.map(([, attempt]) => attempt), [1, 2]);
    t.is(seen[0]![0], seen[1]![0]); // the same task id across the re-offer
    await lab.until(() => client!.stats().resultsLate > 0, 3000, 'the paused worker\'s result');
    const s = client!.stats();
    t.like(s, { resultsLate: 1, leasesExpired: 1, tasksReoffered: 1, tasksCompleted: 1 });
    t.is(client!.channel.group!.stats().deathsDeclared, 0);
  });
});

test.serial('replicas: 3 runs the task on 3 different workers; equal results are the result', async (t) => {
  await withLab(t, 'tasks-replicas', async (lab) => {
    const [client, ...workers] = await lab.members(['client', 'w1', 'w2', 'w3', 'w4']);
    const ran = new Map<string, string[]>();
    for (const w of workers) {
      w.work('jobs', async (task) => {
        ran.set(task.id, [...(ran.get(task.id) ?? []), w.name]);
        await lab.sleep(10);
        return task.data.toString().toUpperCase();
      }, { capacity: 4 });
    }
    await lab.workersKnown([client!], 'jobs', 4);
    await lab.run(DISCOVERY_MS);
    const results = await lab.settle(Promise.all(['a', 'b', 'c', 'd', 'e'].map((x) => client!.submit('jobs', x, { replicas: 3 }))));
    t.deepEqual(results.map((r) => r.data.toString()), ['A', 'B', 'C', 'D', 'E']);
    for (const r of results) {
      t.is(new Set(r.workers.map((p) => p.id)).size, 3);
      t.is(r.attempts, 3);
    }
    t.is(ran.size, 5);
    for (const [id, who] of ran) t.is(new Set(who).size, 3, `${id} ran on ${who.join(', ')}`);
  });
});

test.serial('replicas whose results differ: ReconcileError with every result; a custom reconcile makes the result', async (t) => {
  await withLab(t, 'tasks-reconcile', async (lab) => {
    const [client, ...workers] = await lab.members(['client', 'w1', 'w2', 'w3']);
    for (const w of workers) w.work('jobs', () => w.name, { capacity: 2 });
    await lab.workersKnown([client!], 'jobs', 3);
    await lab.run(DISCOVERY_MS);
    const { error } = await lab.outcome(client!.submit('jobs', 'x', { replicas: 3 }));
    t.true(error instanceof ReconcileError, String(error));
    const e = error as ReconcileError;
    t.is(e.code, 'BLIPCAST_BUS_RECONCILE');
    t.deepEqual(e.results.map((r) => r.data.toString()).sort(), ['w1', 'w2', 'w3']);
    t.true(e.results.every((r) => r.data.toString() === r.worker.name));
    let seen = 0;
    const result = await lab.settle(client!.submit('jobs', 'x', {
      replicas: 3,
      reconcile: (results) => {
        seen = results.length;
        return results.map((r) => r.data.toString()).sort().join('+');
      },
    }));
    t.is(seen, 3);
    t.is(result.data.toString(), 'w1+w2+w3');
    const thrown = await lab.outcome(client!.submit('jobs', 'x', { replicas: 2, reconcile: () => { throw new Error('no quorum'); } }));
    t.true(thrown.error instanceof ReconcileError);
    t.regex(thrown.error!.message, /no quorum/);
  });
});

test.serial('a handler that always throws: TaskFailedError after maxFailures, with each failure\'s worker and message', async (t) => {
  await withLab(t, 'tasks-fail', async (lab) => {
    const [client, ...workers] = await lab.members(['client', 'w1', 'w2']);
    let runs = 0;
    for (const w of workers) {
      w.work('jobs', async () => {
        runs++;
        await lab.sleep(5);
        throw new Error(`bad input on ${w.name}`);
      });
    }
    await lab.workersKnown([client!], 'jobs', 2);
    await lab.run(DISCOVERY_MS);
    const { error } = await lab.outcome(client!.submit('jobs', 'x', { maxFailures: 3 }));
    t.true(error instanceof TaskFailedError, String(error));
    const e = error as TaskFailedError;
    t.is(e.code, 'BLIPCAST_BUS_TASK_FAILED');
    t.is(e.failures.length, 3);
    t.true(e.failures.every((f) => f.message === `bad input on ${f.worker.name}`));
    t.is(runs, 3);
    t.like(client!.stats(), { tasksFailed: 1, tasksCompleted: 0, tasksPending: 0, tasksInFlight: 0 });
  });
});

test.serial('submit beyond maxBacklog rejects with BacklogFullError; room comes back as tasks finish', async (t) => {
  await withLab(t, 'tasks-backlog', async (lab) => {
    const client = await lab.member('client', { maxBacklog: 3 });
    const worker = await lab.member('w1');
    await lab.until(() => client.channel.group!.members().length === 2);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    worker.work('jobs', async (task) => {
      await gate;
      return task.data;
    });
    await lab.workersKnown([client], 'jobs', 1);
    const pending = [1, 2, 3].map((i) => client.submit('jobs', String(i)));
    const { error } = await lab.outcome(client.submit('jobs', '4'));
    t.true(error instanceof BacklogFullError, String(error));
    t.is((error as BacklogFullError).limit, 3);
    t.is((error as BacklogFullError).code, 'BLIPCAST_BUS_BACKLOG_FULL');
    release();
    const done = await lab.settle(Promise.all(pending));
    t.deepEqual(done.map((r) => r.data.toString()), ['1', '2', '3']);
    const later = await lab.settle(client.submit('jobs', '5'));
    t.is(later.data.toString(), '5');
  });
});

test.serial('two submitters with more tasks than the workers hold: both finish, awards shared while both wait', async (t) => {
  await withLab(t, 'tasks-fair', async (lab) => {
    const [c1, c2, ...workers] = await lab.members(['c1', 'c2', 'w1', 'w2']);
    let running = 0;
    let mostRunning = 0;
    for (const w of workers) {
      let mine = 0;
      w.work('jobs', async (task) => {
        mine++;
        running++;
        mostRunning = Math.max(mostRunning, running);
        t.true(mine <= 2, `${w.name} runs ${mine} tasks at once, capacity 2`);
        await lab.sleep(20);
        mine--;
        running--;
        return task.data;
      }, { capacity: 2 });
    }
    await lab.workersKnown([c1!, c2!], 'jobs', 2);
    await lab.run(DISCOVERY_MS);
    const order: string[] = [];
    const submitAll = (c: Bus): Promise<TaskResult[]> => Promise.all(Array.from({ length: 100 }, (_, i) => c.submit('jobs', `${c.name}/${i}`).then((r) => {
      order.push(c.name);
      return r;
    })));
    const [r1, r2] = await lab.settle(Promise.all([submitAll(c1!), submitAll(c2!)]));
    t.true(r1.every((r, i) => r.data.toString() === `c1/${i}`));
    t.true(r2.every((r, i) => r.data.toString() === `c2/${i}`));
    // While both had work (until one of them finished), each got about half of the completions.
    const firstDone = Math.min(order.lastIndexOf('c1'), order.lastIndexOf('c2'));
    const both = order.slice(0, firstDone + 1);
    const c1Share = both.filter((n) => n === 'c1').length / both.length;
    let longestRun = 0;
    for (let i = 0, run = 0; i < both.length; i++) {
      run = i > 0 && both[i] === both[i - 1] ? run + 1 : 1;
      longestRun = Math.max(longestRun, run);
    }
    t.log(`both waiting for the first ${both.length} completions: c1 ${(c1Share * 100).toFixed(0)} %, longest run of one submitter ${longestRun}`);
    t.true(both.length >= 180, `one submitter finished after ${both.length} completions`);
    t.true(c1Share > 0.4 && c1Share < 0.6);
    t.true(longestRun <= 8);
    t.is(mostRunning, 4); // the workers were kept full
  });
});

test.serial('a submit whose signal aborts rejects with AbortError and the worker\'s task signal aborts', async (t) => {
  await withLab(t, 'tasks-abort', async (lab) => {
    const [client, worker] = await lab.members(['client', 'w1']);
    let taskSignal: AbortSignal | undefined;
    worker!.work('jobs', (task) => {
      taskSignal = task.signal;
      return never();
    });
    await lab.workersKnown([client!], 'jobs', 1);
    const ac = new AbortController();
    const pending = lab.outcome(client!.submit('jobs', 'x', { signal: ac.signal }));
    await lab.until(() => taskSignal !== undefined);
    ac.abort();
    const { error } = await pending;
    t.true(error instanceof AbortError, String(error));
    await lab.until(() => taskSignal!.aborted, 1000, 'the worker\'s task signal');
    t.like(client!.stats(), { tasksFailed: 1, tasksInFlight: 0, tasksPending: 0 });
  });
});

test.serial('a worker that leaves mid-task loses it to another worker at once', async (t) => {
  await withLab(t, 'tasks-leave', async (lab) => {
    const [client, ...workers] = await lab.members(['client', 'w1', 'w2']);
    let leaver: Bus | undefined;
    for (const w of workers) {
      w.work('jobs', (task) => {
        if (leaver === undefined) {
          leaver = w;
          void w.close();
          return never();
        }
        return `${w.name}:${task.data.toString()}`;
      });
    }
    await lab.workersKnown([client!], 'jobs', 2);
    await lab.run(DISCOVERY_MS);
    const { value, ms } = await lab.outcome(client!.submit('jobs', 'x', { leaseMs: 60_000 }));
    t.not(value!.workers[0]!.id, leaver!.id);
    t.is(value!.data.toString(), `${value!.workers[0]!.name}:x`);
    t.is(value!.attempts, 2);
    t.true(ms < 500, `took ${ms} ms with a lease of 60 s`);
    t.like(client!.stats(), { leasesExpired: 0, tasksReoffered: 1 });
  });
});

test.serial('a submit to a queue nobody works rejects with NoServerError after discovery', async (t) => {
  await withLab(t, 'tasks-none', async (lab) => {
    const client = await lab.member('client');
    const { error, ms } = await lab.outcome((async () => {
      await lab.sleep(DISCOVERY_MS);
      return client.submit('jobs', 'x');
    })());
    t.true(error instanceof NoServerError, String(error));
    t.regex(error!.message, /works queue 'jobs'/);
    t.true(ms <= DISCOVERY_MS + 1);
  });
});

test.serial('a stopped service answers "not served" and its requests go to the other server', async (t) => {
  await withLab(t, 'req-stop', async (lab) => {
    const [client, ...servers] = await lab.members(['client', 's1', 's2']);
    const services = servers.map((s) => s.serve('echo', () => s.name));
    await lab.serversKnown([client!], 'echo', 2);
    // Stopped, but the requester has not heard it yet: the request still goes there first half the time.
    services[0]!.stop();
    const replies = await lab.settle(Promise.all(Array.from({ length: 10 }, () => client!.request('echo', 'x', { attemptTimeoutMs: 2000 }))));
    t.true(replies.every((r) => r.from.name === 's2'));
    await lab.until(() => client!.servers('echo').length === 1, 1000, 'the stop announced');
    t.deepEqual(client!.servers('echo').map((p) => p.name), ['s2']);
  });
});

// ---- options ----

test.serial('bad options reject openBus with the typed error naming the option, and nothing is opened', async (t) => {
  const lab = new BusLab('options');
  lab.net.host('bad');
  const witness = await lab.member('witness');
  let opened = 0;
  const openBad = (extra: Record<string, unknown>): Promise<Bus> => openBusWith(
    { group: GROUP, transport: 'memory', network: lab.net, host: 'bad', ...extra } as never,
    (o: OpenOptions) => {
      opened++;
      return open({ ...o, seed: 'bad' });
    },
  );
  const cases: [Record<string, unknown>, new (...args: never[]) => Error, RegExp][] = [
    [{ bogus: 1 }, InvalidArgumentValueError, /unknown option 'bogus'/],
    [{ name: 42 }, InvalidArgumentTypeError, /options\.name/],
    [{ name: '' }, InvalidArgumentValueError, /options\.name/],
    [{ name: 'x'.repeat(256) }, InvalidArgumentValueError, /options\.name/],
    [{ stream: 7 }, InvalidArgumentTypeError, /options\.stream/],
    [{ discoveryMs: '100' }, InvalidArgumentTypeError, /options\.discoveryMs/],
    [{ discoveryMs: -1 }, InvalidArgumentValueError, /options\.discoveryMs/],
    [{ maxBacklog: 0 }, InvalidArgumentValueError, /options\.maxBacklog/],
    [{ maxBacklog: 2.5 }, InvalidArgumentValueError, /options\.maxBacklog/],
  ];
  for (const [extra, type, message] of cases) {
    await t.throwsAsync(openBad(extra), { instanceOf: type, message }, JSON.stringify(extra).slice(0, 60));
  }
  t.is(opened, 0);
  // Channel options are open()'s to check, before it opens anything.
  await t.throwsAsync(openBad({ ttl: 'x' }), { instanceOf: InvalidArgumentTypeError, message: /options\.ttl/ });
  await t.throwsAsync(openBad({ ttl: 300 }), { instanceOf: InvalidArgumentValueError, message: /options\.ttl/ });
  await t.throwsAsync(openBad({ signal: 'stop' }), { instanceOf: InvalidArgumentTypeError, message: /options\.signal/ });
  await t.throwsAsync(openBusWith({ transport: 'memory', network: lab.net, host: 'bad' } as never, open), { instanceOf: InvalidArgumentTypeError, message: /options\.group/ });
  await lab.run(1000);
  t.deepEqual(witness.channel.group!.members().map((m) => m.name), ['witness']);
  await lab.close();
});

test.serial('bad arguments of serve, request, gather, work and submit throw the typed error naming them', async (t) => {
  await withLab(t, 'call-options', async (lab) => {
    const bus = await lab.member('solo');
    const T = InvalidArgumentTypeError;
    const V = InvalidArgumentValueError;
    t.throws(() => bus.serve('', () => 'x'), { instanceOf: V, message: /subject/ });
    t.throws(() => bus.serve('x'.repeat(256), () => 'x'), { instanceOf: V, message: /subject/ });
    t.throws(() => bus.serve(5 as never, () => 'x'), { instanceOf: T, message: /subject/ });
    t.throws(() => bus.serve('s', 'handler' as never), { instanceOf: T, message: /handler/ });
    t.throws(() => bus.serve('s', () => 'x', { concurrency: 0 }), { instanceOf: V, message: /options\.concurrency/ });
    t.throws(() => bus.serve('s', () => 'x', { maxQueued: -1 }), { instanceOf: V, message: /options\.maxQueued/ });
    t.throws(() => bus.serve('s', () => 'x', { nope: 1 } as never), { instanceOf: V, message: /unknown option 'nope'/ });
    await t.throwsAsync(bus.request('s', 5 as never), { instanceOf: T, message: /payload/ });
    await t.throwsAsync(bus.request('s', 'x', { timeoutMs: 0 }), { instanceOf: V, message: /options\.timeoutMs/ });
    await t.throwsAsync(bus.request('s', 'x', { attemptTimeoutMs: '1' as never }), { instanceOf: T, message: /options\.attemptTimeoutMs/ });
    await t.throwsAsync(bus.request('s', 'x', { signal: {} as never }), { instanceOf: T, message: /options\.signal/ });
    t.throws(() => bus.gather('s', 'x', { expect: 0 }), { instanceOf: V, message: /options\.expect/ });
    t.throws(() => bus.gather('s', 'x', { expect: 1.5 }), { instanceOf: V, message: /options\.expect/ });
    t.throws(() => bus.gather('s', 'x', { expect: 'all' as never }), { instanceOf: T, message: /options\.expect/ });
    t.throws(() => bus.gather('s', 'x', { deadlineMs: -5 }), { instanceOf: V, message: /options\.deadlineMs/ });
    t.throws(() => bus.work('q', () => 'x', { capacity: 70_000 }), { instanceOf: V, message: /options\.capacity/ });
    t.throws(() => bus.work('', () => 'x'), { instanceOf: V, message: /queue/ });
    await t.throwsAsync(bus.submit('q', 'x', { replicas: 0 }), { instanceOf: V, message: /options\.replicas/ });
    await t.throwsAsync(bus.submit('q', 'x', { leaseMs: 5 }), { instanceOf: V, message: /options\.leaseMs/ });
    await t.throwsAsync(bus.submit('q', 'x', { maxFailures: 1.5 }), { instanceOf: V, message: /options\.maxFailures/ });
    await t.throwsAsync(bus.submit('q', 'x', { reconcile: 'first' as never }), { instanceOf: T, message: /options\.reconcile/ });
    await t.throwsAsync(bus.submit('q', 5 as never), { instanceOf: T, message: /task/ });
    // One byte more than one channel message can carry with the bus's fields: refused at the call, not lost as a send error.
    const tooBig = Buffer.alloc(MAX_PAYLOAD_BYTES + 1);
    await t.throwsAsync(bus.request('s', tooBig), { instanceOf: V, message: /payload must be at most/ });
    t.throws(() => bus.gather('s', tooBig), { instanceOf: V, message: /payload must be at most/ });
    await t.throwsAsync(bus.submit('q', tooBig), { instanceOf: V, message: /task must be at most/ });
    t.deepEqual(bus.servers('s'), []);
    t.deepEqual(bus.workers('q'), []);
    t.is(bus.stats().tasksSubmitted, 0);
  });
});

test.serial('under 20 % loss, 300 tasks over 3 workers, one paused past its leases: each submit gets its own result, late results are discarded', async (t) => {
  await withLab(t, 'tasks-loss', async (lab) => {
    const [client, ...workers] = await lab.members(['client', 'w1', 'w2', 'w3'], {}, PATIENT_MEMBERSHIP);
    const executions = new Map<string, number>();
    let pausedAtMs: number | undefined;
    workers.forEach((w) => w.work('jobs', async (task) => {
      executions.set(task.id, (executions.get(task.id) ?? 0) + 1);
      if (w.name === 'w2' && pausedAtMs === undefined && executions.size > 50) {
        pausedAtMs = lab.nowMs;
        lab.cutOff('w2');
        lab.net.setTimer(() => lab.heal(), 800);
      }
      await lab.sleep(10 + (Number(task.data.toString()) % 7) * 5);
      return `${task.data.toString()}!`;
    }, { capacity: 3 }));
    await lab.workersKnown([client!], 'jobs', 3);
    await lab.run(DISCOVERY_MS);
    const results = await lab.settle(Promise.all(Array.from({ length: 300 }, (_, i) => client!.submit('jobs', String(i), { leaseMs: 300 }))), 60_000);
    t.deepEqual(results.map((r) => r.data.toString()), Array.from({ length: 300 }, (_, i) => `${i}!`));
    t.not(pausedAtMs, undefined);
    await lab.run(2000); // the paused worker's results come in after the heal
    const s = client!.stats();
    t.log(workers.map((w) => `${w.name} ran ${w.stats().tasksRun}`).join(', '));
    const total = [...executions.values()].reduce((a, b) => a + b, 0);
    t.like(s, { tasksCompleted: 300, tasksFailed: 0, tasksPending: 0, tasksInFlight: 0 });
    t.true(s.leasesExpired > 0 && s.resultsLate > 0, `leases expired ${s.leasesExpired}, late results ${s.resultsLate}`);
    t.true(total >= 300 + s.resultsLate);
    const links = lab.net.totalLinkStats();
    t.log(`${total} executions, ${s.leasesExpired} leases expired, ${s.tasksReoffered} re-offered, ${s.resultsLate} late results; ${links.dropped} of ${links.datagrams} datagrams lost`);
  }, { lossRate: 0.2 });
});

test.serial('a worker cut off until declared dead comes back after the heal and is given tasks again', async (t) => {
  await withLab(t, 'tasks-rejoin', async (lab) => {
    const [client, ...workers] = await lab.members(['client', 'w1', 'w2']);
    const ranOn = new Map<string, number>();
    for (const w of workers) {
      w.work('jobs', async (task) => {
        ranOn.set(w.name, (ranOn.get(w.name) ?? 0) + 1);
        await lab.sleep(20);
        return task.data;
      }, { capacity: 2 });
    }
    await lab.workersKnown([client!], 'jobs', 2);
    await lab.run(DISCOVERY_MS);
    lab.cutOff('w1');
    const during = await lab.settle(Promise.all(Array.from({ length: 20 }, (_, i) => client!.submit('jobs', `a${i}`, { leaseMs: 300 }))));
    t.true(during.every((r, i) => r.data.toString() === `a${i}`));
    await lab.until(() => client!.workers('jobs').length === 1, 5000, 'w1 declared dead');
    lab.heal();
    await lab.until(() => client!.workers('jobs').length === 2, 5000, 'w1 back');
    ranOn.clear();
    const after = await lab.settle(Promise.all(Array.from({ length: 40 }, (_, i) => client!.submit('jobs', `b${i}`, { leaseMs: 300 }))));
    t.true(after.every((r, i) => r.data.toString() === `b${i}`));
    t.log(`after the heal: ${JSON.stringify(Object.fromEntries(ranOn))}`);
    t.true((ranOn.get('w1') ?? 0) > 5, `w1 ran ${ranOn.get('w1') ?? 0} of 40`);
  });
});

test.serial('a server cut off until declared dead comes back after the heal and is asked again', async (t) => {
  await withLab(t, 'req-rejoin', async (lab) => {
    const [client, ...servers] = await lab.members(['client', 's1', 's2']);
    for (const s of servers) s.serve('who', () => s.name);
    await lab.serversKnown([client!], 'who', 2);
    lab.cutOff('s1');
    await lab.until(() => client!.servers('who').length === 1, 5000, 's1 declared dead');
    lab.heal();
    await lab.until(() => client!.servers('who').length === 2, 5000, 's1 back');
    const replies = await lab.settle(Promise.all(Array.from({ length: 40 }, () => client!.request('who'))));
    const s1 = replies.filter((r) => r.data.toString() === 's1').length;
    t.true(s1 > 10 && s1 < 30, `s1 answered ${s1} of 40`);
    t.true(replies.every((r) => r.attempt === 1));
  });
});

test.serial('a member serves its own requests and gathers, and works its own tasks, alone or with others', async (t) => {
  await withLab(t, 'self', async (lab) => {
    const [a, b] = await lab.members(['a', 'b']);
    a!.serve('who', (req) => `a:${req.from.name}`);
    a!.work('jobs', (task) => `a:${task.data.toString()}`);
    const alone = await lab.settle(a!.request('who'));
    t.is(alone.data.toString(), 'a:a');
    t.is(alone.from.id, a!.id);
    t.is((await lab.settle(a!.submit('jobs', 'x'))).data.toString(), 'a:x');
    b!.serve('who', (req) => `b:${req.from.name}`);
    await lab.serversKnown([a!, b!], 'who', 2);
    await lab.run(DISCOVERY_MS);
    const { replies, summary } = await gathered(lab, a!.gather('who', 'q', { deadlineMs: 1000 }));
    t.is(summary.ended, 'complete');
    t.deepEqual(replies.map((r) => r.data.toString()).sort(), ['a:a', 'b:a']);
    const spread = await lab.settle(Promise.all(Array.from({ length: 40 }, () => a!.request('who'))));
    const mine = spread.filter((r) => r.from.id === a!.id).length;
    t.true(mine > 10 && mine < 30, `a answered ${mine} of its own 40 requests`);
  });
});

test.serial('a slow server\'s answer that comes after its attempt timeout is still taken when it comes first', async (t) => {
  await withLab(t, 'req-slow', async (lab) => {
    const [client, ...servers] = await lab.members(['client', 's1', 's2']);
    const asked: string[] = [];
    for (const s of servers) {
      s.serve('slow', async () => {
        asked.push(s.name);
        await lab.sleep(asked.length === 1 ? 700 : 1000); // the first asked answers at 700 ms, the second 300 + 1000 ms
        return s.name;
      });
    }
    await lab.serversKnown([client!], 'slow', 2);
    const { value, ms } = await lab.outcome(client!.request('slow', 'x', { attemptTimeoutMs: 300, timeoutMs: 5000 }));
    t.is(asked.length, 2);
    t.is(value!.from.name, asked[0]);
    t.is(value!.attempt, 1);
    t.true(ms >= 700 && ms < 710, `took ${ms} ms`);
    await lab.run(1000);
    t.like(client!.stats(), { requestsFailedOver: 1, repliesReceived: 1, repliesLate: 1 });
  });
});

test.serial('a gather called before discovery is over waits for it and expects every server', async (t) => {
  await withLab(t, 'gather-early', async (lab) => {
    const servers = await lab.members(HOSTS5);
    for (const s of servers) s.serve('status', () => s.name);
    const client = await lab.member('client');
    const openedMs = lab.nowMs;
    const { replies, summary } = await gathered(lab, client.gather('status', 'q', { deadlineMs: 5000 }));
    t.is(summary.ended, 'complete');
    t.deepEqual(names(summary.expected), HOSTS5);
    t.deepEqual(names(replies.map((r) => r.from)), HOSTS5);
    t.true(lab.nowMs - openedMs >= DISCOVERY_MS, `ended ${lab.nowMs - openedMs} ms after opening`);
  });
});

test.serial('replicas: 3 with a worker crashed holding one: the replica goes to a fourth worker, 3 different workers make the result', async (t) => {
  await withLab(t, 'tasks-replica-crash', async (lab) => {
    const [client, ...workers] = await lab.members(['client', 'w1', 'w2', 'w3', 'w4']);
    const ran: string[] = [];
    let victim: string | undefined;
    for (const w of workers) {
      w.work('jobs', async (task) => {
        ran.push(w.name);
        if (victim === undefined) {
          victim = w.name;
          lab.crash(w.name);
          return never();
        }
        await lab.sleep(10);
        return task.data;
      });
    }
    await lab.workersKnown([client!], 'jobs', 4);
    await lab.run(DISCOVERY_MS);
    const result = await lab.settle(client!.submit('jobs', 'same', { replicas: 3, leaseMs: 300 }));
    t.is(result.data.toString(), 'same');
    t.is(new Set(result.workers.map((p) => p.name)).size, 3);
    t.false(result.workers.some((p) => p.name === victim));
    t.deepEqual([...ran].sort(), ['w1', 'w2', 'w3', 'w4']);
    t.is(result.attempts, 4);
  });
});

test.serial('a stopped worker finishes its running tasks, whose results count, and is given no more', async (t) => {
  await withLab(t, 'tasks-stop', async (lab) => {
    const [client, ...workers] = await lab.members(['client', 'w1', 'w2']);
    const ranOn = new Map<string, number>();
    const handles = workers.map((w) => w.work('jobs', async (task) => {
      ranOn.set(w.name, (ranOn.get(w.name) ?? 0) + 1);
      await lab.sleep(50);
      return `${w.name}:${task.data.toString()}`;
    }, { capacity: 2 }));
    await lab.workersKnown([client!], 'jobs', 2);
    await lab.run(DISCOVERY_MS);
    const all = Promise.all(Array.from({ length: 40 }, (_, i) => client!.submit('jobs', String(i))));
    await lab.until(() => (ranOn.get('w1') ?? 0) >= 4);
    handles[0]!.stop();
    const stoppedWith = ranOn.get('w1')!;
    const results = await lab.settle(all);
    t.true(results.every((r, i) => r.data.toString() === `${r.workers[0]!.name}:${i}`));
    t.is(ranOn.get('w1'), stoppedWith);
    t.is(results.filter((r) => r.workers[0]!.name === 'w1').length, stoppedWith); // its running tasks' results counted
    t.is(client!.stats().tasksReoffered, 0);
    await lab.until(() => client!.workers('jobs').length === 1, 1000, 'the stop announced');
  });
});

test.serial('a gather whose signal aborts ends "aborted" with the answers so far', async (t) => {
  await withLab(t, 'gather-abort', async (lab) => {
    const [client, ...servers] = await lab.members(['client', 's1', 's2', 's3']);
    servers.forEach((s, i) => s.serve('status', async () => {
      await lab.sleep(100 * (i + 1));
      return s.name;
    }));
    await lab.serversKnown([client!], 'status', 3);
    await lab.run(DISCOVERY_MS);
    const ac = new AbortController();
    lab.net.setTimer(() => ac.abort(), 250);
    const { replies, summary } = await gathered(lab, client!.gather('status', 'q', { deadlineMs: 5000, signal: ac.signal }));
    t.is(summary.ended, 'aborted');
    t.deepEqual(replies.map((r) => r.from.name), ['s1', 's2']);
    t.deepEqual(summary.missing.map((m) => [m.member.name, m.reason]), [['s3', 'timeout']]);
    t.is(summary.durationMs, 250);
  });
});
