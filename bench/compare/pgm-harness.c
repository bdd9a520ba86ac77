/*
 * OpenPGM (RFC 3208) harness for the comparison benchmark (compare.ts), used
 * the way its users use it: through ZeroMQ PUB/SUB on an epgm:// endpoint
 * (PGM encapsulated in UDP). Built with: cc -O2 pgm-harness.c -lzmq
 *
 *   pgm-harness role=send|recv|ping|echo|oneway-send|oneway-recv group=239.255.x.y port=P if=IFACE (required)
 *               count=N size=S rate=KBIT_PER_S maxSendMs=T idleMs=T lingerMs=T [queueBytes=B]
 *               (send/recv: the sender writes for maxSendMs, `count` is a ceiling; the receiver
 *               learns how many were written from its stdin, see harness-common.h)
 *               (oneway-*: count=N warmup=W msgRate=MSGS_PER_S idleMs=T lingerMs=T)
 *
 * Settings (see README.md): ZMQ_RATE = `rate` kbit/s (PGM's own rate limiter;
 * ZeroMQ's default is 100 kbit/s), ZMQ_RECOVERY_IVL 10 s (the transmit window
 * repairs are served from), 8 MiB kernel socket buffers, ZMQ_MULTICAST_HOPS 1,
 * one I/O thread, TPDU 1500. The throughput sender is an XPUB with
 * ZMQ_XPUB_NODROP and a send high-water mark of `queueBytes` (4 MiB) worth of
 * messages, so zmq_send blocks once that much waits for PGM's rate limiter: a
 * sender that writes for maxSendMs is paced by PGM. A plain PUB cannot be:
 * at HWM 0 it queues without limit (2 s of writing at 64 B took 6 s to
 * leave at 500 Mbit/s), at any other HWM it drops silently, which would not
 * be PGM's loss. Every other socket has unlimited high-water marks.
 */
#include <errno.h>
#include <unistd.h>
#include <zmq.h>
#include "harness-common.h"

#define SOCKET_BYTES (8 << 20)

static void *open_socket(void *ctx, int type, const char *ifname, const char *group, int port, int rateKbit, int sndhwm) {
  void *s = zmq_socket(ctx, type);
  int zero = 0, one = 1, buf = SOCKET_BYTES, hops = 1, recovery = 10000, linger = 0;
  zmq_setsockopt(s, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
  if (type == ZMQ_XPUB) zmq_setsockopt(s, ZMQ_XPUB_NODROP, &one, sizeof one);
  zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero);
  zmq_setsockopt(s, ZMQ_SNDBUF, &buf, sizeof buf);
  zmq_setsockopt(s, ZMQ_RCVBUF, &buf, sizeof buf);
  zmq_setsockopt(s, ZMQ_MULTICAST_HOPS, &hops, sizeof hops);
  zmq_setsockopt(s, ZMQ_RATE, &rateKbit, sizeof rateKbit);
  zmq_setsockopt(s, ZMQ_RECOVERY_IVL, &recovery, sizeof recovery);
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  if (type == ZMQ_SUB) zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
  char ep[256];
  snprintf(ep, sizeof ep, "epgm://%s;%s:%d", ifname, group, port);
  if (zmq_connect(s, ep) != 0) {
    fprintf(stderr, "zmq_connect %s: %s\n", ep, zmq_strerror(errno));
    exit(1);
  }
  return s;
}

static int run_send(void *ctx, const char *group, int port, const char *ifname) {
  long long count = (long long)arg_num("count", 100000);
  size_t size = (size_t)arg_num("size", 64);
  double maxSendMs = arg_num("maxSendMs", 3000), lingerMs = arg_num("lingerMs", 30000);
  int hwm = (int)(arg_num("queueBytes", 4 << 20) / (double)size);
  void *s = open_socket(ctx, ZMQ_XPUB, ifname, group, port, (int)arg_num("rate", 1000000), hwm < 16 ? 16 : hwm);
  print_ready();
  usleep(200 * 1000);
  char *msg = calloc(1, size);
  double u0, s0;
  cpu_ms(&u0, &s0);
  double t0 = now_ms();
  long long i = 0;
  for (; i < count && !g_stop; i++) {
    if ((i & 255) == 0 && now_ms() - t0 > maxSendMs) break;
    memcpy(msg, &i, sizeof i < size ? sizeof i : size);
    while (zmq_send(s, msg, size, 0) < 0 && errno == EINTR && !g_stop) {}
  }
  double t1 = now_ms();
  print_wrote(i);
  /* The queue drains at ZMQ_RATE in the I/O thread, which also answers NAKs: stay until told to stop. */
  while (!g_stop && now_ms() - t1 < lingerMs) usleep(20 * 1000);
  print_send(i, t0, t1, u0, s0);
  zmq_close(s);
  return 0;
}

static int run_recv(void *ctx, const char *group, int port, const char *ifname) {
  long long count = (long long)arg_num("count", 100000);
  double idleMs = arg_num("idleMs", 2000);
  void *s = open_socket(ctx, ZMQ_SUB, ifname, group, port, (int)arg_num("rate", 1000000), 0);
  int timeout = 50;
  zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
  print_ready();
  static char buf[1 << 17];
  long long delivered = 0, bytes = 0, deliveredAtCheck = 0;
  double firstMs = 0, lastMs = 0, progressMs = 0, u0 = 0, s0 = 0, start = now_ms();
  while (!g_stop && delivered < wanted(count)) {
    int n = zmq_recv(s, buf, sizeof buf, 0);
    if (n < 0) {
      poll_fd_and_stdin(-1, 0);
      /* Progress is noticed here, at the receive timeout's grain (lastMs below is only read every 64 small messages). */
      if (delivered != deliveredAtCheck) { deliveredAtCheck = delivered; progressMs = now_ms(); }
      if (idle_expired(delivered > 0, progressMs, start, idleMs)) break;
      continue;
    }
    if (delivered == 0) { firstMs = lastMs = now_ms(); cpu_ms(&u0, &s0); }
    delivered++;
    bytes += n;
    /* The span's end: the clock every 64 small messages (reading it per message costs more than 63 of them are worth), every large one. */
    if ((delivered & 63) == 0 || n > 4096 || delivered == wanted(count)) lastMs = now_ms();
    /* Whether the sender's count has come, every 4096 messages (and on every receive timeout above). */
    if ((delivered & 4095) == 0) poll_fd_and_stdin(-1, 0);
  }
  print_recv(delivered, bytes, firstMs, lastMs, u0, s0);
  zmq_close(s);
  return 0;
}

/* ping: 64 B (u32 index, f64 send time µs) on group A at `rate` msgs/s (PGM rate 100 Mbit/s), echoes on group B. */
static int run_latency(void *ctx, int ping, const char *group, const char *groupB, int port, int portB, const char *ifname) {
  double rate = arg_num("rate", 1000), durationMs = arg_num("durationMs", 3000), warmupMs = arg_num("warmupMs", 500);
  void *tx = open_socket(ctx, ZMQ_PUB, ifname, ping ? group : groupB, ping ? port : portB, 100000, 0);
  void *rx = open_socket(ctx, ZMQ_SUB, ifname, ping ? groupB : group, ping ? portB : port, 100000, 0);
  print_ready();
  long long maxN = (long long)(rate * durationMs / 1000) + 16, sent = 0, received = 0, n = 0;
  double *rtt = calloc((size_t)maxN, sizeof(double));
  char rec[64] = {0}, in[64];
  double start = now_ms() + (ping ? 500 : 0), lastRx = now_ms();
  for (;;) {
    double now = now_ms();
    if (g_stop) break;
    if (ping && now - start > durationMs + 1000) break;
    if (!ping && now - lastRx > arg_num("idleMs", 3000) + (received ? 0 : 30000)) break;
    if (ping && now >= start && now - start <= durationMs && sent < maxN - 16 && sent < (now - start) * rate / 1000) {
      double t = now_us();
      memcpy(rec, &sent, 4);
      memcpy(rec + 8, &t, 8);
      zmq_send(tx, rec, 64, 0);
      sent++;
      continue;
    }
    int got = zmq_recv(rx, in, sizeof in, ZMQ_DONTWAIT);
    if (got < 0) {
      if (!ping) usleep(5);
      continue;
    }
    received++;
    lastRx = now_ms();
    if (!ping) { zmq_send(tx, in, 64, 0); continue; }
    double t;
    memcpy(&t, in + 8, 8);
    if (t - start * 1e3 > warmupMs * 1e3 && n < maxN) rtt[n++] = now_us() - t;
  }
  if (ping) print_ping(sent, received, rtt, n);
  else printf("{\"role\":\"echo\",\"echoed\":%lld}\n", received);
  fflush(stdout);
  zmq_close(tx);
  zmq_close(rx);
  return 0;
}

/*
 * One-way latency (harness-common.h): PUB → SUB at ZMQ_RATE 100 Mbit/s as in
 * the round trip; repairs are PGM's NAK / RDATA with the timers ZeroMQ sets
 * (ZeroMQ exposes none of them).
 */
static int run_oneway_send(void *ctx, const char *group, int port, const char *ifname) {
  long long count = (long long)arg_num("count", 10000);
  double msgRate = arg_num("msgRate", 2000), lingerMs = arg_num("lingerMs", 60000);
  void *s = open_socket(ctx, ZMQ_PUB, ifname, group, port, 100000, 0);
  print_ready();
  char rec[ONEWAY_BYTES];
  double t0 = now_ms();
  long long i = 0;
  while (!g_stop && now_ms() - t0 < lingerMs) {
    double wait = oneway_due_ms(t0, msgRate, i) - now_ms();
    if (wait > 0) {
      usleep((useconds_t)(wait * 1e3));
      continue;
    }
    oneway_stamp(rec, (uint64_t)i);
    while (zmq_send(s, rec, ONEWAY_BYTES, 0) < 0 && errno == EINTR && !g_stop) {}
    i++;
  }
  print_oneway_send(i, count);
  zmq_close(s);
  return 0;
}

static int run_oneway_recv(void *ctx, const char *group, int port, const char *ifname) {
  oneway_rx rx;
  oneway_rx_init(&rx, (long long)arg_num("count", 10000), (long long)arg_num("warmup", 0));
  double idleMs = arg_num("idleMs", 3000);
  void *s = open_socket(ctx, ZMQ_SUB, ifname, group, port, 100000, 0);
  int timeout = 20;
  zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
  print_ready();
  char in[ONEWAY_BYTES * 2];
  while (!g_stop && !oneway_rx_complete(&rx)) {
    int n = zmq_recv(s, in, sizeof in, 0);
    if (n == ONEWAY_BYTES) oneway_rx_record(&rx, in);
    else if (now_ms() - rx.lastMs > idleMs + (rx.delivered ? 0 : 30000)) break;
  }
  print_oneway_recv(&rx);
  zmq_close(s);
  return 0;
}

int main(int argc, char **argv) {
  g_argc = argc, g_argv = argv;
  install_term();
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *role = arg_str("role", "recv"), *group = arg_str("group", "239.255.1.1"), *ifname = arg_required("if");
  int port = (int)arg_num("port", 40000);
  void *ctx = zmq_ctx_new();
  zmq_ctx_set(ctx, ZMQ_IO_THREADS, 1);
  int rc = 2;
  if (!strcmp(role, "send")) rc = run_send(ctx, group, port, ifname);
  else if (!strcmp(role, "recv")) rc = run_recv(ctx, group, port, ifname);
  else if (!strcmp(role, "oneway-send")) rc = run_oneway_send(ctx, group, port, ifname);
  else if (!strcmp(role, "oneway-recv")) rc = run_oneway_recv(ctx, group, port, ifname);
  else if (!strcmp(role, "ping") || !strcmp(role, "echo"))
    rc = run_latency(ctx, !strcmp(role, "ping"), group, arg_str("groupB", "239.255.1.2"), port, (int)arg_num("portB", port + 1), ifname);
  else fprintf(stderr, "unknown role %s\n", role);
  /* zmq_ctx_term can wait on PGM's own threads; the result is printed already. */
  _exit(rc);
}
