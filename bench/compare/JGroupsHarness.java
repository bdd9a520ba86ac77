/*
 * JGroups harness for the comparison benchmark (compare.ts): the stock UDP
 * stack (udp.xml from the jgroups jar, unchanged: IP multicast, NAKACK + STABLE,
 * UFC/MFC credit flow control, FRAG2, bundling), group and TTL given by the
 * system properties the stock file reads (-Djgroups.udp.mcast_addr,
 * -Djgroups.udp.mcast_port, -Djgroups.bind_addr, -Djgroups.udp.ip_ttl=1).
 *
 *   java -cp build/compare:/usr/share/java/jgroups.jar -Djava.net.preferIPv4Stack=true ... \
 *        JGroupsHarness role=send|recv cluster=NAME count=N size=S members=2 maxSendMs=T idleMs=T lingerMs=T
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
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
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
      double idleMs = num("idleMs", 2000), start = nowMs();
      while (true) {
        Thread.sleep(20);
        synchronized (delivered) {
          double now = nowMs();
          if (delivered[0] >= count) break;
          if (delivered[0] > 0 ? now - times[1] > idleMs : now - start > idleMs + 30000) break;
        }
      }
      synchronized (delivered) {
        double[] c = cpuMs();
        if (delivered[0] == 0) c = new double[] {times[2], times[3]};
        println(String.format("{\"role\":\"recv\",\"delivered\":%d,\"bytes\":%d,\"firstMs\":%.3f,\"lastMs\":%.3f,\"cpuUserMs\":%.1f,\"cpuSysMs\":%.1f}",
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
    final CountDownLatch printed = new CountDownLatch(1);
    Runnable report = () -> {
      double[] c = cpuMs();
      println(String.format("{\"role\":\"send\",\"sent\":%d,\"firstMs\":%.3f,\"lastMs\":%.3f,\"cpuUserMs\":%.1f,\"cpuSysMs\":%.1f}", sent, t0, t1, c[0] - c0[0], c[1] - c0[1]));
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
}
