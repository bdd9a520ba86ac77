/*
 * Shared by the C harnesses of the comparison benchmark (norm-harness.c,
 * pgm-harness.c): key=value arguments, the monotonic clock, CPU time and the
 * JSON result lines the orchestrator (compare.ts) reads.
 *
 * Protocol with the orchestrator: every role prints {"ready":true} once its
 * sockets are open. A sender writes messages until it has written `count` or
 * `maxSendMs` has passed (compare.ts sizes runs by time: `count` is only a
 * ceiling), prints {"wrote":N}, then keeps its protocol running (to answer
 * repair requests) until SIGTERM or `lingerMs`, prints its result line and
 * exits: its CPU time then includes the repairs it served. The orchestrator
 * writes N as a line to the receiver's stdin; a receiver prints one result
 * line and exits when it has min(`count`, N) messages or has seen nothing for
 * `idleMs`.
 *
 * One-way latency roles (oneway-send, oneway-recv; compare.ts runs them with
 * 1 % loss on the receiving host): 64 B records, u64 sequence number and u64
 * CLOCK_MONOTONIC send time in ns (little-endian), written at `rate` per
 * second. Every lab namespace reads the same CLOCK_MONOTONIC, so the receiver's
 * now − send time is the one-way latency. Records 0 … warmup−1 are not
 * measured; warmup … count−1 are; the sender then keeps writing records
 * numbered ≥ count at the same rate (so the loss of the last measured record
 * is found like any other, by the gap the next one shows) until SIGTERM.
 */
#ifndef BLIPCAST_HARNESS_COMMON_H
#define BLIPCAST_HARNESS_COMMON_H

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop = 0;
static void on_term(int sig) { (void)sig; g_stop = 1; }
static void install_term(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
}

static int g_argc;
static char **g_argv;
/* The value of key=value among the arguments, or fallback. */
static const char *arg_str(const char *key, const char *fallback) {
  size_t n = strlen(key);
  for (int i = 1; i < g_argc; i++)
    if (strncmp(g_argv[i], key, n) == 0 && g_argv[i][n] == '=') return g_argv[i] + n + 1;
  return fallback;
}
/* The value of key=value, or exit 2: for the interface, which must never default to a real one (compare.ts passes a lab host's). */
static const char *arg_required(const char *key) {
  const char *s = arg_str(key, NULL);
  if (s == NULL) {
    fprintf(stderr, "missing %s=… (the multicast interface: a lab host's, or lo)\n", key);
    exit(2);
  }
  return s;
}
static double arg_num(const char *key, double fallback) {
  const char *s = arg_str(key, NULL);
  return s ? atof(s) : fallback;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static double now_us(void) { return now_ms() * 1e3; }
static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Process CPU time (all threads: the libraries' own threads count too). */
static void cpu_ms(double *user, double *sys) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *user = ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3;
  *sys = ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

static void print_ready(void) {
  printf("{\"ready\":true}\n");
  fflush(stdout);
}

/* {"delivered":…} for a receiver, CPU counted from its first message. */
static void print_recv(long long delivered, long long bytes, double firstMs, double lastMs, double u0, double s0) {
  double u, s;
  cpu_ms(&u, &s);
  if (delivered == 0) u = u0, s = s0;
  printf("{\"role\":\"recv\",\"delivered\":%lld,\"bytes\":%lld,\"firstMs\":%.3f,\"lastMs\":%.3f,\"cpuUserMs\":%.1f,\"cpuSysMs\":%.1f}\n",
         delivered, bytes, firstMs, lastMs, u - u0, s - s0);
  fflush(stdout);
}

/* {"sent":…} for a sender, CPU counted from its first message until now (after the linger). */
static void print_send(long long sent, double firstMs, double lastMs, double u0, double s0) {
  double u, s;
  cpu_ms(&u, &s);
  printf("{\"role\":\"send\",\"sent\":%lld,\"firstMs\":%.3f,\"lastMs\":%.3f,\"cpuUserMs\":%.1f,\"cpuSysMs\":%.1f}\n", sent, firstMs, lastMs, u - u0, s - s0);
  fflush(stdout);
}

/* {"wrote":N}: the sender's last write is done; the orchestrator passes N on to the receiver. */
static void print_wrote(long long wrote) {
  printf("{\"wrote\":%lld}\n", wrote);
  fflush(stdout);
}

/* ---------------------------------------------------------------- the count a receiver waits for */

/* What the sender wrote, once the orchestrator has told us (a line on stdin); -1 until then. And when we heard (ms). */
static long long g_wrote = -1;
static double g_wroteAtMs = 0;
static int g_stdin_open = 1;
static char g_stdin_line[32];
static size_t g_stdin_len = 0;

/* Reads what stdin holds (the caller saw it readable, so read() does not block) and takes N from a whole line. */
static void read_wrote(void) {
  ssize_t n = read(0, g_stdin_line + g_stdin_len, sizeof g_stdin_line - 1 - g_stdin_len);
  if (n <= 0) { g_stdin_open = 0; return; }
  g_stdin_len += (size_t)n;
  g_stdin_line[g_stdin_len] = 0;
  if (strchr(g_stdin_line, '\n') != NULL) { g_wrote = atoll(g_stdin_line); g_wroteAtMs = now_ms(); g_stdin_open = 0; }
  else if (g_stdin_len == sizeof g_stdin_line - 1) g_stdin_open = 0;
}

/*
 * Waits up to timeoutMs for `fd` (a library's event descriptor; −1 for none)
 * or stdin to be readable, reading N from stdin when it comes. Returns 1 when
 * `fd` is readable.
 */
static int poll_fd_and_stdin(int fd, int timeoutMs) {
  struct pollfd p[2];
  p[0].fd = fd, p[0].events = POLLIN, p[0].revents = 0;
  p[1].fd = g_stdin_open ? 0 : -1, p[1].events = POLLIN, p[1].revents = 0;
  if (poll(p, 2, timeoutMs) <= 0) return 0;
  if (p[1].revents) read_wrote();
  return fd >= 0 && (p[0].revents & POLLIN) != 0;
}

/* The number of messages the receiver waits for: `count`, or fewer once the sender said what it wrote. */
static long long wanted(long long count) { return g_wrote >= 0 && g_wrote < count ? g_wrote : count; }

/*
 * Whether a receiver gives up: nothing for idleMs since its last message, or,
 * when none came, since the sender said it was done (a reference that loses
 * everything costs idleMs, not the 30 s a slow start is allowed).
 */
static int idle_expired(int any, double lastMs, double startMs, double idleMs) {
  double now = now_ms();
  if (any) return now - lastMs > idleMs;
  if (g_wrote >= 0) return now - g_wroteAtMs > idleMs;
  return now - startMs > idleMs + 30000;
}

/* Round-trip samples as {"role":"ping","sent":…,"received":…,"rttUs":[…]} (the orchestrator computes percentiles). */
static void print_ping(long long sent, long long received, double *rtt, long long n) {
  printf("{\"role\":\"ping\",\"sent\":%lld,\"received\":%lld,\"rttUs\":[", sent, received);
  for (long long i = 0; i < n; i++) printf(i ? ",%.1f" : "%.1f", rtt[i]);
  printf("]}\n");
  fflush(stdout);
}

/* ---------------------------------------------------------------- one-way latency */

#define ONEWAY_BYTES 64

/* Fills a 64 B record: sequence number, then the send time (ns, CLOCK_MONOTONIC). x86-64 and arm64 are little-endian. */
static void oneway_stamp(char *rec, uint64_t seq) {
  uint64_t t = now_ns();
  memset(rec, 0x6f, ONEWAY_BYTES);
  memcpy(rec, &seq, 8);
  memcpy(rec + 8, &t, 8);
}

/* When record i is due (ms, CLOCK_MONOTONIC) for a sender that started at t0Ms. */
static double oneway_due_ms(double t0Ms, double rate, long long i) { return t0Ms + (double)i * 1000.0 / rate; }

/* The receiving side: latency per measured record, duplicates, and when the last measured record arrived. */
typedef struct {
  long long count, warmup, delivered, duplicates, stray;
  double lastMs;
  double *latUs;          /* indexed by sequence − warmup; < 0 = not yet */
} oneway_rx;

static void oneway_rx_init(oneway_rx *rx, long long count, long long warmup) {
  memset(rx, 0, sizeof *rx);
  rx->count = count;
  rx->warmup = warmup;
  rx->lastMs = now_ms();
  rx->latUs = (double *)malloc(sizeof(double) * (size_t)(count - warmup > 0 ? count - warmup : 1));
  for (long long i = 0; i < count - warmup; i++) rx->latUs[i] = -1;
}

/* Records one received 64 B record (its latency is taken now). */
static void oneway_rx_record(oneway_rx *rx, const char *rec) {
  uint64_t seq, sentNs, now = now_ns();
  memcpy(&seq, rec, 8);
  memcpy(&sentNs, rec + 8, 8);
  if ((long long)seq < rx->warmup || (long long)seq >= rx->count) return;
  if (sentNs > now || now - sentNs > 600000000000ull) { rx->stray++; return; }
  double *slot = &rx->latUs[seq - (uint64_t)rx->warmup];
  if (*slot >= 0) { rx->duplicates++; return; }
  *slot = (double)(now - sentNs) / 1e3;
  rx->delivered++;
  rx->lastMs = now_ms();
}

static int oneway_rx_complete(const oneway_rx *rx) { return rx->delivered >= rx->count - rx->warmup; }

/* {"role":"oneway-recv","expected":…,"delivered":…,"latUs":[…]}: latencies of the measured records that arrived, in sequence order. */
static void print_oneway_recv(const oneway_rx *rx) {
  printf("{\"role\":\"oneway-recv\",\"expected\":%lld,\"delivered\":%lld,\"duplicates\":%lld,\"stray\":%lld,\"latUs\":[",
         rx->count - rx->warmup, rx->delivered, rx->duplicates, rx->stray);
  int first = 1;
  for (long long i = 0; i < rx->count - rx->warmup; i++) {
    if (rx->latUs[i] < 0) continue;
    printf(first ? "%.1f" : ",%.1f", rx->latUs[i]);
    first = 0;
  }
  printf("]}\n");
  fflush(stdout);
}

/* {"role":"oneway-send","sent":…}: records written, the measured and warm-up ones only (not the tail after `count`). */
static void print_oneway_send(long long written, long long count) {
  printf("{\"role\":\"oneway-send\",\"sent\":%lld,\"written\":%lld}\n", written < count ? written : count, written);
  fflush(stdout);
}

#endif
