/*
 * JGroups harness for the comparison benchmark (compare.ts): the stock UDP
 * stack (udp.xml from the jgroups jar, unchanged: IP multicast, NAKACK + STABLE,
 * UFC/MFC credit flow control, FRAG2, bundling), group and TTL given by the
 * system properties the stock file reads (-Djgroups.udp.mcast_addr,
 * -Djgroups.udp.mcast_port, -Djgroups.bind_addr, -Djgroups.udp.ip_ttl=1).
 *
 *   java -cp build/compare:/usr/share/java/jgroups.jar -Djava.net.preferIPv4Stack=true ... \
 *        JGroupsHarness role=send|recv cluster=NAME count=N size=S members=2 maxSendMs=T idleMs=T lingerMs=T
 *        (the sender writes for maxSendMs, `count` is a ceiling, and prints {"wrote":N} after its last
 *        write; the receiver stops at N messages once the orchestrator writes N to its stdin)
 *        JGroupsHarness role=ping|echo cluster=NAME rate=MSGS_PER_S durationMs=T warmupMs=T [dontBundle=1]
 *        JGroupsHarness role=oneway-send|oneway-recv cluster=NAME count=N warmup=W msgRate=MSGS_PER_S idleMs=T lingerMs=T [dontBundle=1]
 *
 * Latency roles. Round trip (ping/echo): both processes join one cluster; the
 * ping multicasts 64 B records (u64 sequence, u64 System.nanoTime() send
 * time, then a marker byte 'P'); the echo multicasts every 'P' record back
 * unchanged except for the marker, now 'E'; the ping takes only 'E' records
 * (and, with Channel.LOCAL off, nobody gets their own). One-way
 * (oneway-send/oneway-recv): the records of harness-common.h (u64 sequence,
 * u64 send time ns), the same protocol as the C harnesses. System.nanoTime()
 * is CLOCK_MONOTONIC on Linux (OpenJDK's os::javaTimeNanos), the clock the C
 * harnesses and node's process.hrtime() read, shared by all lab namespaces.
 * dontBundle=1 sets Message.DONT_BUNDLE (the stock stack bundles for up to
 * max_bundle_timeout = 30 ms).
 *
 * Same protocol as the C harnesses: {"ready":true} once the channel is
 * connected (for a sender: once every member is in the view), one JSON result
 * line, and a sender keeps its channel open (serving retransmissions) until
 * SIGTERM or lingerMs. CPU time is the whole JVM's (JIT and GC included), from
 * /proc/self/stat.
 */
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.jgroups.Channel;
import org.jgroups.JChannel;
import org.jgroups.Message;
import org.jgroups.ReceiverAdapter;
import org.jgroups.View;

public final class JGroupsHarness {
  private static final Map<String, String> args = new HashMap<>();

  private static double num(String key, double fallback) {
    String v = args.get(key);
    return v == null ? fallback : Double.parseDouble(v);
  }

  private static double nowMs() {
    return System.nanoTime() / 1e6;
  }

  /** {user, sys} CPU ms of this process (all threads). */
  private static double[] cpuMs() {
    try {
      String stat = new String(Files.readAllBytes(Paths.get("/proc/self/stat")));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // After "(comm) ": field 3 is f[0], so utime (14) is f[11] and stime (15) f[12]; clock ticks of 10 ms.
      return new double[] {Long.parseLong(f[11]) * 10.0, Long.parseLong(f[12]) * 10.0};
    } catch (Exception e) {
      return new double[] {0, 0};
    }
  }

  private static void println(String s) {
    System.out.println(s);
    System.out.flush();
  }

  public static void main(String[] argv) throws Exception {
    for (String a : argv) {
      int eq = a.indexOf('=');
      if (eq > 0) args.put(a.substring(0, eq), a.substring(eq + 1));
    }
    String role = args.getOrDefault("role", "recv");
    long count = (long) num("count", 100000);
    int size = (int) num("size", 64);
    int members = (int) num("members", 2);
    if (role.equals("ping") || role.equals("echo")) {
      roundTrip(role.equals("ping"), members);
      return;
    }
    if (role.equals("oneway-send") || role.equals("oneway-recv")) {
      oneway(role.equals("oneway-send"), members);
      return;
    }
    JChannel ch = new JChannel("udp.xml");
    ch.setOpt(Channel.LOCAL, Boolean.FALSE);
    final CountDownLatch allJoined = new CountDownLatch(1);
    final long[] delivered = {0, 0};
    final double[] times = {0, 0, 0, 0};
    ch.setReceiver(new ReceiverAdapter() {
      @Override public void receive(Message msg) {
        synchronized (delivered) {
          if (delivered[0] == 0) {
            times[0] = nowMs();
            double[] c = cpuMs();
            times[2] = c[0];
            times[3] = c[1];
          }
          delivered[0]++;
          delivered[1] += msg.getLength();
          times[1] = nowMs();
        }
      }
      @Override public void viewAccepted(View v) {
        if (v.size() >= members) allJoined.countDown();
      }
    });
    ch.connect(args.getOrDefault("cluster", "blipcast-compare"));
    if (role.equals("recv")) {
      println("{\"ready\":true}");
      // The sender writes for maxSendMs; the orchestrator passes on what it wrote as a line on stdin.
      final long[] wrote = {-1};
      final double[] wroteAtMs = {0};
      Thread stdin = new Thread(() -> {
        try {
          String line = new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();
          if (line != null) synchronized (delivered) {
            wrote[0] = Long.parseLong(line.trim());
            wroteAtMs[0] = nowMs();
          }
        } catch (Exception e) {
          // No count from the orchestrator: wait for `count` or the idle timeout.
        }
      });
      stdin.setDaemon(true);
      stdin.start();
      double idleMs = num("idleMs", 2000), start = nowMs();
      while (true) {
        Thread.sleep(20);
        synchronized (delivered) {
          double now = nowMs();
          if (delivered[0] >= (wrote[0] >= 0 ? Math.min(count, wrote[0]) : count)) break;
          // Nothing for idleMs since the last message, or (when none came) since the sender said it was done.
          if (delivered[0] > 0 ? now - times[1] > idleMs : wrote[0] >= 0 ? now - wroteAtMs[0] > idleMs : now - start > idleMs + 30000) break;
        }
      }
      synchronized (delivered) {
        double[] c = cpuMs();
        if (delivered[0] == 0) c = new double[] {times[2], times[3]};
        println(String.format(Locale.ROOT, "{\"role\":\"recv\",\"delivered\":%d,\"bytes\":%d,\"firstMs\":%.3f,\"lastMs\":%.3f,\"cpuUserMs\":%.1f,\"cpuSysMs\":%.1f}",
            delivered[0], delivered[1], times[0], times[1], c[0] - times[2], c[1] - times[3]));
      }
      System.exit(0);
    }
    if (!allJoined.await(30, TimeUnit.SECONDS)) System.err.println("send: not every member joined the view");
    println("{\"ready\":true}");
    final double[] c0 = cpuMs();
    final double t0 = nowMs();
    double maxSendMs = num("maxSendMs", 3000);
    long i = 0;
    for (; i < count; i++) {
      if ((i & 255) == 0 && nowMs() - t0 > maxSendMs) break;
      byte[] buf = new byte[size];
      buf[0] = (byte) i;
      buf[1] = (byte) (i >> 8);
      buf[2] = (byte) (i >> 16);
      buf[3] = (byte) (i >> 24);
      ch.send(new Message(null, null, buf));
    }
    final long sent = i;
    final double t1 = nowMs();
    println(String.format(Locale.ROOT, "{\"wrote\":%d}", sent));
    final CountDownLatch printed = new CountDownLatch(1);
    Runnable report = () -> {
      double[] c = cpuMs();
      println(String.format(Locale.ROOT, "{\"role\":\"send\",\"sent\":%d,\"firstMs\":%.3f,\"lastMs\":%.3f,\"cpuUserMs\":%.1f,\"cpuSysMs\":%.1f}", sent, t0, t1, c[0] - c0[0], c[1] - c0[1]));
      printed.countDown();
    };
    // SIGTERM from the orchestrator once the receiver is done: report (CPU includes retransmissions served) and go.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      if (printed.getCount() > 0) report.run();
    }));
    Thread.sleep((long) num("lingerMs", 30000));
    report.run();
    System.exit(0);
  }

  // ---------------------------------------------------------------- latency roles

  private static final int RECORD_BYTES = 64;
  private static final byte PING = 'P';
  private static final byte ECHO = 'E';

  private static Message record(long seq, byte marker) {
    byte[] buf = new byte[RECORD_BYTES];
    ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(0, seq);
    b.putLong(8, System.nanoTime());
    buf[16] = marker;
    return flagged(new Message(null, null, buf));
  }

  private static Message flagged(Message m) {
    if (num("dontBundle", 0) != 0) m.setFlag(Message.DONT_BUNDLE);
    return m;
  }

  /** Sleeps until System.nanoTime() reaches dueNs (or returns at once if it has). */
  private static void sleepUntil(long dueNs) {
    long wait;
    while ((wait = dueNs - System.nanoTime()) > 0) LockSupport.parkNanos(wait);
  }

  /** Connects to the cluster; with `waitFor` > 0, waits until that many members are in the view. */
  private static JChannel join(ReceiverAdapter r, int waitFor, CountDownLatch joined) throws Exception {
    JChannel ch = new JChannel("udp.xml");
    ch.setOpt(Channel.LOCAL, Boolean.FALSE);
    ch.setReceiver(r);
    ch.connect(args.getOrDefault("cluster", "blipcast-compare"));
    if (waitFor > 0 && !joined.await(30, TimeUnit.SECONDS)) System.err.println("not every member joined the view");
    return ch;
  }

  private static void roundTrip(boolean ping, int members) throws Exception {
    final double rate = num("rate", 1000), durationMs = num("durationMs", 3000), warmupMs = num("warmupMs", 500);
    final CountDownLatch joined = new CountDownLatch(1);
    final CountDownLatch firstEcho = new CountDownLatch(1);
    final long[] received = {0};
    final long[] timedFromNs = {Long.MAX_VALUE};
    final double[] rtt = new double[(int) (rate * (durationMs + warmupMs) / 1000) + 64];
    final int[] n = {0};
    final JChannel[] chan = {null};
    ReceiverAdapter r = new ReceiverAdapter() {
      @Override public void receive(Message msg) {
        byte[] buf = msg.getBuffer();
        if (buf.length != RECORD_BYTES) return;
        if (!ping) {
          if (buf[16] != PING) return;
          byte[] out = buf.clone();
          out[16] = ECHO;
          try {
            chan[0].send(flagged(new Message(null, null, out)));
          } catch (Exception e) {
            System.err.println("echo: " + e);
          }
          return;
        }
        if (buf[16] != ECHO) return;
        long now = System.nanoTime();
        ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
        long seq = b.getLong(0), sentNs = b.getLong(8);
        firstEcho.countDown();
        if (seq < 0) return;
        synchronized (rtt) {
          received[0]++;
          if (sentNs >= timedFromNs[0] && n[0] < rtt.length) rtt[n[0]++] = (now - sentNs) / 1e3;
        }
      }
      @Override public void viewAccepted(View v) {
        if (v.size() >= members) joined.countDown();
      }
    };
    chan[0] = join(r, ping ? members : 0, joined);
    println("{\"ready\":true}");
    if (!ping) {
      // The echo serves until the orchestrator kills it (or 5 minutes).
      Thread.sleep(300_000);
      System.exit(0);
    }
    // Both directions are up once a warm-up record (sequence −1) came back.
    for (int tries = 0; firstEcho.getCount() > 0 && tries < 500; tries++) {
      chan[0].send(record(-1, PING));
      firstEcho.await(20, TimeUnit.MILLISECONDS);
    }
    if (firstEcho.getCount() > 0) System.err.println("ping: no echo within 10 s");
    Thread.sleep(100);
    long t0 = System.nanoTime();
    synchronized (rtt) {
      timedFromNs[0] = t0 + (long) (warmupMs * 1e6);
    }
    long total = (long) (rate * (durationMs + warmupMs) / 1000);
    long sent = 0;
    for (; sent < total; sent++) {
      sleepUntil(t0 + (long) (sent * 1e9 / rate));
      chan[0].send(record(sent, PING));
    }
    Thread.sleep(1000);
    StringBuilder sb = new StringBuilder();
    synchronized (rtt) {
      sb.append(String.format(Locale.ROOT, "{\"role\":\"ping\",\"sent\":%d,\"received\":%d,\"rttUs\":[", sent, received[0]));
      for (int i = 0; i < n[0]; i++) sb.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT, "%.1f", rtt[i]));
    }
    println(sb.append("]}").toString());
    System.exit(0);
  }

  private static void oneway(boolean send, int members) throws Exception {
    final long count = (long) num("count", 10000), warmup = (long) num("warmup", 0);
    final double msgRate = num("msgRate", 2000), idleMs = num("idleMs", 3000), lingerMs = num("lingerMs", 60000);
    final CountDownLatch joined = new CountDownLatch(1);
    final int measured = (int) Math.max(0, count - warmup);
    final double[] lat = new double[Math.max(1, measured)];
    java.util.Arrays.fill(lat, -1);
    final long[] stats = {0, 0}; // delivered, duplicates
    final double[] lastMs = {nowMs()};
    ReceiverAdapter r = new ReceiverAdapter() {
      @Override public void receive(Message msg) {
        if (send) return;
        long now = System.nanoTime();
        byte[] buf = msg.getBuffer();
        if (buf.length != RECORD_BYTES) return;
        ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
        long seq = b.getLong(0), sentNs = b.getLong(8);
        if (seq < warmup || seq >= count) return;
        synchronized (lat) {
          int i = (int) (seq - warmup);
          if (lat[i] >= 0) {
            stats[1]++;
            return;
          }
          lat[i] = (now - sentNs) / 1e3;
          stats[0]++;
          lastMs[0] = nowMs();
        }
      }
      @Override public void viewAccepted(View v) {
        if (v.size() >= members) joined.countDown();
      }
    };
    JChannel ch = join(r, send ? members : 0, joined);
    println("{\"ready\":true}");
    if (send) {
      final long[] written = {0};
      Runtime.getRuntime().addShutdownHook(new Thread(() -> println(String.format(Locale.ROOT, "{\"role\":\"oneway-send\",\"sent\":%d,\"written\":%d}", Math.min(written[0], count), written[0]))));
      long t0 = System.nanoTime();
      // Records past `count` keep the stream going (a lost last measured record is found like any other) until SIGTERM.
      for (long i = 0; System.nanoTime() - t0 < lingerMs * 1e6; i++) {
        sleepUntil(t0 + (long) (i * 1e9 / msgRate));
        ch.send(record(i, (byte) 0));
        written[0] = i + 1;
      }
      System.exit(0);
    }
    while (true) {
      Thread.sleep(20);
      synchronized (lat) {
        if (stats[0] >= measured) break;
        if (nowMs() - lastMs[0] > idleMs + (stats[0] > 0 ? 0 : 30000)) break;
      }
    }
    StringBuilder sb = new StringBuilder();
    synchronized (lat) {
      sb.append(String.format(Locale.ROOT, "{\"role\":\"oneway-recv\",\"expected\":%d,\"delivered\":%d,\"duplicates\":%d,\"stray\":0,\"latUs\":[", measured, stats[0], stats[1]));
      boolean first = true;
      for (double v : lat) {
        if (v < 0) continue;
        sb.append(first ? "" : ",").append(String.format(Locale.ROOT, "%.1f", v));
        first = false;
      }
    }
    println(sb.append("]}").toString());
    System.exit(0);
  }
}
