/*
 * NRL NORM (RFC 5740) harness for the comparison benchmark (compare.ts).
 * Built with: c++ -x c++ -O2 norm-harness.c -lnorm (normApi.h is C++: references and
 * default arguments), so the code below is the C subset that also compiles as C++.
 *
 *   norm-harness role=send|recv|ping|echo|oneway-send|oneway-recv group=239.255.x.y port=P if=IFACE (required)
 *                count=N size=S rate=BITS_PER_S cc=0|1 maxSendMs=T idleMs=T lingerMs=T
 *                (send/recv: the sender writes for maxSendMs, `count` is a ceiling; the receiver
 *                learns how many were written from its stdin, see harness-common.h)
 *                (oneway-*: count=N warmup=W msgRate=MSGS_PER_S idleMs=T lingerMs=T)
 *
 * Messages are fixed-size records in one NORM stream (NormStreamWrite per
 * message; NORM packs the byte stream into full segments itself). The receiver
 * counts delivered messages as bytes read / size. Settings (see README.md):
 * segment 1400 B (fits the 1500 B veth MTU), FEC blocks of 64 data + 8 parity
 * segments sent only on demand, 64 MiB sender buffer and receiver buffer,
 * 16 MiB stream buffer, 8 MiB socket buffers, initial GRTT estimate 1 ms (the
 * lab's round trip is tens of µs; NORM starts at 0.25 s otherwise), TTL 1, no
 * multicast loopback. Rate: fixed `rate`, or NORM-CC (cc=1) bounded by `rate`.
 */
#include <normApi.h>
#include <poll.h>
#include <unistd.h>
#include "harness-common.h"

#define SEGMENT 1400
#define BLOCK 64
#define PARITY 8
#define BUFFER_BYTES (64u << 20)
#define STREAM_BYTES (16u << 20)
#define SOCKET_BYTES (8u << 20)

static NormSessionHandle open_session(NormInstanceHandle inst, const char *group, int port, const char *ifname) {
  NormSessionHandle s = NormCreateSession(inst, group, (UINT16)port, NORM_NODE_ANY);
  if (s == NORM_SESSION_INVALID) { fprintf(stderr, "NormCreateSession failed\n"); exit(1); }
  NormSetMulticastInterface(s, ifname);
  NormSetTTL(s, 1);
  NormSetMulticastLoopback(s, false);
  NormSetGrttEstimate(s, 0.001);
  NormSetRxPortReuse(s, true, NULL, NULL, 0);
  return s;
}

static void start_sender(NormSessionHandle s, double rate, int cc) {
  if (cc) {
    /* NORM-CC starts from the rate set here (NORM's default would be 64 kbit/s) and adapts between the bounds. */
    NormSetTxRate(s, rate / 20);
    NormSetCongestionControl(s, true, true);
    NormSetTxRateBounds(s, 1e6, rate);
  } else {
    NormSetTxRate(s, rate);
  }
  if (!NormStartSender(s, NormGetRandomSessionId(), BUFFER_BYTES, SEGMENT, BLOCK, PARITY, 0)) { fprintf(stderr, "NormStartSender failed\n"); exit(1); }
  NormSetTxSocketBuffer(s, SOCKET_BYTES);
}

static void start_receiver(NormSessionHandle s) {
  if (!NormStartReceiver(s, BUFFER_BYTES)) { fprintf(stderr, "NormStartReceiver failed\n"); exit(1); }
  NormSetRxSocketBuffer(s, SOCKET_BYTES);
}

/* Waits up to timeoutMs for the instance to have an event. */
static void wait_event(NormInstanceHandle inst, int timeoutMs) {
  struct pollfd p;
  p.fd = NormGetDescriptor(inst);
  p.events = POLLIN;
  p.revents = 0;
  poll(&p, 1, timeoutMs);
}

/* Writes all of buf, blocking on NORM's vacancy events when the stream buffer is full (the rate limiter paces the sender). */
static void write_all(NormInstanceHandle inst, NormObjectHandle st, const char *buf, unsigned len) {
  unsigned off = 0;
  while (off < len && !g_stop) {
    off += NormStreamWrite(st, buf + off, len - off);
    if (off < len) {
      NormEvent ev;
      while (!g_stop && NormGetNextEvent(inst, &ev, true))
        if (ev.type == NORM_TX_QUEUE_VACANCY || ev.type == NORM_TX_QUEUE_EMPTY) break;
    }
  }
}

static int run_send(const char *group, int port, const char *ifname) {
  long long count = (long long)arg_num("count", 100000);
  unsigned size = (unsigned)arg_num("size", 64);
  double maxSendMs = arg_num("maxSendMs", 3000), lingerMs = arg_num("lingerMs", 30000);
  NormInstanceHandle inst = NormCreateInstance(false);
  NormSessionHandle s = open_session(inst, group, port, ifname);
  start_sender(s, arg_num("rate", 1e9), (int)arg_num("cc", 0));
  NormObjectHandle st = NormStreamOpen(s, STREAM_BYTES, NULL, 0);
  NormStreamSetAutoFlush(st, NORM_FLUSH_NONE);
  print_ready();
  usleep(100 * 1000);
  char *msg = (char *)calloc(1, size);
  double u0, s0;
  cpu_ms(&u0, &s0);
  double t0 = now_ms();
  long long i = 0;
  for (; i < count && !g_stop; i++) {
    if ((i & 255) == 0 && now_ms() - t0 > maxSendMs) break;
    memcpy(msg, &i, sizeof i < size ? sizeof i : size);
    write_all(inst, st, msg, size);
    /* Message boundaries: after a break in the stream the receiver resumes at the next whole message. */
    NormStreamMarkEom(st);
  }
  double t1 = now_ms();
  print_wrote(i);
  /* Active flush: the tail goes out now and FLUSH commands invite NACKs for anything the receivers miss. */
  NormStreamFlush(st, true, NORM_FLUSH_ACTIVE);
  while (!g_stop && now_ms() - t1 < lingerMs) {
    NormEvent ev;
    wait_event(inst, 50);
    while (NormGetNextEvent(inst, &ev, false)) {}
  }
  print_send(i, t0, t1, u0, s0);
  return 0;
}

static int run_recv(const char *group, int port, const char *ifname) {
  long long count = (long long)arg_num("count", 100000);
  long long size = (long long)arg_num("size", 64);
  double idleMs = arg_num("idleMs", 2000);
  NormInstanceHandle inst = NormCreateInstance(false);
  NormSessionHandle s = open_session(inst, group, port, ifname);
  start_receiver(s);
  print_ready();
  static char buf[1 << 16];
  long long bytes = 0, breaks = 0;
  double firstMs = 0, lastMs = 0, u0 = 0, s0 = 0, start = now_ms();
  while (!g_stop && bytes < wanted(count) * size) {
    if (idle_expired(bytes > 0, lastMs, start, idleMs)) break;
    poll_fd_and_stdin(NormGetDescriptor(inst), 50);
    NormEvent ev;
    while (NormGetNextEvent(inst, &ev, false)) {
      if (ev.type != NORM_RX_OBJECT_UPDATED || NormObjectGetType(ev.object) != NORM_OBJECT_STREAM) continue;
      for (;;) {
        unsigned len = sizeof buf;
        /* false = a break in the stream (data the sender no longer holds): resume at the next message. */
        if (!NormStreamRead(ev.object, buf, &len)) {
          breaks++;
          if (!NormStreamSeekMsgStart(ev.object)) break;
          continue;
        }
        if (len == 0) break;
        if (bytes == 0) { firstMs = now_ms(); cpu_ms(&u0, &s0); }
        bytes += len;
        lastMs = now_ms();
      }
    }
  }
  if (breaks) fprintf(stderr, "norm recv: %lld breaks in the stream\n", breaks);
  print_recv(bytes / size, (bytes / size) * size, firstMs, lastMs, u0, s0);
  return 0;
}

/* ping: 64 B records (u32 index, f64 send time µs) on group A at `rate` msgs/s, echoes read on group B. echo: A → B. */
static int run_latency(int ping, const char *group, const char *groupB, int port, int portB, const char *ifname) {
  double rate = arg_num("rate", 1000), durationMs = arg_num("durationMs", 3000), warmupMs = arg_num("warmupMs", 500);
  NormInstanceHandle inst = NormCreateInstance(false);
  NormSessionHandle a = open_session(inst, group, port, ifname);
  NormSessionHandle b = open_session(inst, groupB, portB, ifname);
  NormSessionHandle tx = ping ? a : b, rx = ping ? b : a;
  start_sender(tx, 100e6, 0);
  start_receiver(rx);
  NormObjectHandle st = NormStreamOpen(tx, 1u << 20, NULL, 0);
  /* Every record goes out at once, without waiting to fill a segment. */
  NormStreamSetAutoFlush(st, NORM_FLUSH_PASSIVE);
  NormStreamSetPushEnable(st, true);
  print_ready();
  long long maxN = (long long)(rate * durationMs / 1000) + 16, sent = 0, received = 0, n = 0;
  double *rtt = (double *)calloc((size_t)maxN, sizeof(double));
  char rec[64] = {0}, in[64];
  unsigned have = 0;
  double start = now_ms() + (ping ? 300 : 0), lastRx = now_ms();
  for (;;) {
    double now = now_ms();
    if (g_stop) break;
    if (ping && now - start > durationMs + 1000) break;
    if (!ping && now - lastRx > arg_num("idleMs", 3000) + (received ? 0 : 30000)) break;
    if (ping && now >= start && sent < maxN - 16 && now - start <= durationMs && sent < (now - start) * rate / 1000) {
      double t = now_us();
      memcpy(rec, &sent, 4);
      memcpy(rec + 8, &t, 8);
      write_all(inst, st, rec, 64);
      sent++;
      continue;
    }
    wait_event(inst, ping ? 0 : 20);
    NormEvent ev;
    while (NormGetNextEvent(inst, &ev, false)) {
      if (ev.type != NORM_RX_OBJECT_UPDATED || ev.session != rx) continue;
      for (;;) {
        unsigned len = 64 - have;
        if (!NormStreamRead(ev.object, in + have, &len)) { have = 0; continue; }
        if (len == 0) break;
        have += len;
        if (have < 64) continue;
        have = 0;
        received++;
        lastRx = now_ms();
        if (!ping) { write_all(inst, st, in, 64); continue; }
        double t;
        memcpy(&t, in + 8, 8);
        if (t - start * 1e3 > warmupMs * 1e3 && n < maxN) rtt[n++] = now_us() - t;
      }
    }
  }
  if (ping) print_ping(sent, received, rtt, n);
  else printf("{\"role\":\"echo\",\"echoed\":%lld}\n", received);
  fflush(stdout);
  return 0;
}

/*
 * One-way latency (harness-common.h): the same stream set-up as the round trip
 * (100 Mbit/s fixed rate, push mode, a passive flush after every write, so
 * each 64 B record leaves at once in its own segment; NACK-driven repair with
 * NORM's defaults, GRTT estimate 1 ms to start).
 */
static int run_oneway_send(const char *group, int port, const char *ifname) {
  long long count = (long long)arg_num("count", 10000);
  double msgRate = arg_num("msgRate", 2000), lingerMs = arg_num("lingerMs", 60000);
  NormInstanceHandle inst = NormCreateInstance(false);
  NormSessionHandle s = open_session(inst, group, port, ifname);
  start_sender(s, 100e6, 0);
  NormObjectHandle st = NormStreamOpen(s, 1u << 20, NULL, 0);
  NormStreamSetAutoFlush(st, NORM_FLUSH_PASSIVE);
  NormStreamSetPushEnable(st, true);
  print_ready();
  char rec[ONEWAY_BYTES];
  double t0 = now_ms();
  long long i = 0;
  while (!g_stop && now_ms() - t0 < lingerMs) {
    double wait = oneway_due_ms(t0, msgRate, i) - now_ms();
    if (wait > 0) {
      wait_event(inst, (int)wait + 1);
      NormEvent ev;
      while (NormGetNextEvent(inst, &ev, false)) {}
      continue;
    }
    oneway_stamp(rec, (uint64_t)i);
    write_all(inst, st, rec, ONEWAY_BYTES);
    i++;
  }
  fprintf(stderr, "norm oneway-send: GRTT estimate at the end %.6f s\n", NormGetGrttEstimate(s));
  print_oneway_send(i, count);
  return 0;
}

static int run_oneway_recv(const char *group, int port, const char *ifname) {
  oneway_rx rx;
  oneway_rx_init(&rx, (long long)arg_num("count", 10000), (long long)arg_num("warmup", 0));
  double idleMs = arg_num("idleMs", 3000), start = now_ms();
  NormInstanceHandle inst = NormCreateInstance(false);
  NormSessionHandle s = open_session(inst, group, port, ifname);
  start_receiver(s);
  print_ready();
  char in[ONEWAY_BYTES];
  unsigned have = 0;
  long long breaks = 0;
  int fails = 0;
  while (!g_stop && !oneway_rx_complete(&rx)) {
    if (now_ms() - rx.lastMs > idleMs + (rx.delivered ? 0 : 30000) && now_ms() - start > idleMs) break;
    wait_event(inst, 20);
    NormEvent ev;
    while (NormGetNextEvent(inst, &ev, false)) {
      if (ev.type != NORM_RX_OBJECT_UPDATED || NormObjectGetType(ev.object) != NORM_OBJECT_STREAM) continue;
      for (;;) {
        unsigned len = ONEWAY_BYTES - have;
        /* false = a break (data the sender no longer holds): drop the partial record and realign on the record grid. */
        if (!NormStreamRead(ev.object, in + have, &len)) {
          breaks++;
          have = 0;
          if (++fails > 4) break;
          unsigned skew = NormStreamGetReadOffset(ev.object) % ONEWAY_BYTES;
          if (skew) { char junk[ONEWAY_BYTES]; unsigned n = ONEWAY_BYTES - skew; NormStreamRead(ev.object, junk, &n); }
          continue;
        }
        fails = 0;
        if (len == 0) break;
        have += len;
        if (have < ONEWAY_BYTES) continue;
        have = 0;
        oneway_rx_record(&rx, in);
      }
    }
  }
  if (breaks) fprintf(stderr, "norm oneway-recv: %lld breaks in the stream\n", breaks);
  print_oneway_recv(&rx);
  return 0;
}

int main(int argc, char **argv) {
  g_argc = argc, g_argv = argv;
  install_term();
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *role = arg_str("role", "recv"), *group = arg_str("group", "239.255.1.1"), *ifname = arg_required("if");
  int port = (int)arg_num("port", 40000);
  if (!strcmp(role, "send")) return run_send(group, port, ifname);
  if (!strcmp(role, "recv")) return run_recv(group, port, ifname);
  if (!strcmp(role, "oneway-send")) return run_oneway_send(group, port, ifname);
  if (!strcmp(role, "oneway-recv")) return run_oneway_recv(group, port, ifname);
  if (!strcmp(role, "ping") || !strcmp(role, "echo"))
    return run_latency(!strcmp(role, "ping"), group, arg_str("groupB", "239.255.1.2"), port, (int)arg_num("portB", port + 1), ifname);
  fprintf(stderr, "unknown role %s\n", role);
  return 2;
}
