/*
 * Shared by the C harnesses of the comparison benchmark (norm-harness.c,
 * pgm-harness.c): key=value arguments, the monotonic clock, CPU time and the
 * JSON result lines the orchestrator (compare.ts) reads.
 *
 * Protocol with the orchestrator: every role prints {"ready":true} once its
 * sockets are open. A receiver prints one result line and exits when it has
 * `count` messages or has seen nothing for `idleMs`. A sender writes its
 * messages, then keeps its protocol running (to answer repair requests) until
 * SIGTERM or `lingerMs`, prints its result line and exits: its CPU time then
 * includes the repairs it served.
 */
#ifndef BLIPCAST_HARNESS_COMMON_H
#define BLIPCAST_HARNESS_COMMON_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

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

/* Round-trip samples as {"role":"ping","sent":…,"received":…,"rttUs":[…]} (the orchestrator computes percentiles). */
static void print_ping(long long sent, long long received, double *rtt, long long n) {
  printf("{\"role\":\"ping\",\"sent\":%lld,\"received\":%lld,\"rttUs\":[", sent, received);
  for (long long i = 0; i < n; i++) printf(i ? ",%.1f" : "%.1f", rtt[i]);
  printf("]}\n");
  fflush(stdout);
}

#endif
