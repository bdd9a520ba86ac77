/**
 * A multi-host test lab on one machine: every host is a network namespace with
 * one interface `eth0`, plugged by a veth pair into a bridge that lives in a
 * namespace of its own, so nothing at all is added to the root namespace and
 * no packet can leave through a real interface.
 *
 *   <lab>-h0 (eth0) ─veth─ p0 ┐
 *   <lab>-h1 (eth0) ─veth─ p1 ┼─ br0  in <lab>-br
 *   <lab>-h2 (eth0) ─veth─ p2 ┘
 *
 * Addresses come from the benchmarking ranges: a random /24 of 198.18.0.0/15 and
 * the /64 with the same number inside 2001:2::/48. Multicast snooping is off on
 * the bridge, so every group datagram reaches every host (as on a dumb switch).
 * Loss is injected per host with nftables rules on incoming UDP: single
 * datagrams at random, and/or runs of consecutive datagrams (bursts).
 *
 * Needs root; see `availability.ts` for how tests skip or fail without it.
 * This module does not import AVA, so fixtures may use it outside the runner.
 */

import { spawn as spawnChild, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { IP, NFT, run, SYSCTL } from './command';
import { clearLossScript, LOSS_TABLE, lossScript, parseLossDrops, type LossDrops, type LossOptions } from './loss-rules';
import { cleanupStale, LAB_PREFIX, listNamespaces, listNamespacesSync, registerLab, removeNamespace, removeNamespaceSync, unregisterLab } from './registry';

export { IP, LabCommandError, NFT, systemBinary } from './command';
export { cleanupStale, LAB_PREFIX, listNamespaces } from './registry';
export { ProcessWatch, type ProcessExit } from './process-watch';
export { LOSS_TABLE, type BurstLoss, type LossDrops, type LossOptions } from './loss-rules';

export interface LabOptions {
  /** Number of hosts, 1–200. */
  hosts: number;
  /** Short tag for the namespace names (letters and digits, ≤ 8), to tell labs apart in `ip netns list`. Default 'lab'. */
  name?: string;
  /**
   * Let UDP GSO runs cross the lab whole, on every host (default false). By default each
   * host's eth0 gets `gso_max_segs 1`, so a GSO send is cut into datagrams on the way out
   * and every datagram meets the receivers' loss rules on its own. With `true` the kernel
   * default stays: a GSO run (one `sendmmsg` item: up to 64 equal-size datagrams, < 64 KiB) crosses the veth
   * pair and bridge as one packet, so one loss-rule match at a receiver drops the whole
   * run — the burst a receiver sees behind a NIC that coalesces (GRO) or a queue that
   * overflows. Per host afterwards: {@link Lab.setGsoRuns}; it matters on the sending host.
   */
  gsoRuns?: boolean;
}

export interface LabHost {
  /** Position in {@link Lab.hosts}. */
  index: number;
  /** Short name, `h0`, `h1`, … */
  name: string;
  /** Network namespace of the host (`ip netns exec <netns> …`). */
  netns: string;
  /** IPv4 address of `eth0` (198.18.0.0/15, prefix /24). */
  ipv4: string;
  /** Global IPv6 address of `eth0` (2001:2::/48, prefix /64), usable at once (no DAD). */
  ipv6: string;
  /** The host's only non-loopback interface: 'eth0'. */
  ifname: string;
  /** Name of the veth end on the bridge side (inside {@link Lab.bridgeNetns}). */
  bridgePort: string;
}

/** A host by index or by the object from {@link Lab.hosts}. */
export type HostRef = number | LabHost;

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ExecOptions {
  /** Written to the command's stdin. */
  input?: string;
  /** Kills the command (SIGKILL) after this long. Default 30 s. */
  timeoutMs?: number;
}

/** Kernel UDP counters of one host (`/proc/net/snmp` and `/proc/net/snmp6`). */
export interface UdpCounters {
  inDatagrams: number;
  /** Datagrams dropped because the socket receive buffer was full. */
  rcvbufErrors: number;
  inErrors: number;
  noPorts: number;
  outDatagrams: number;
  in6Datagrams: number;
  rcvbuf6Errors: number;
  in6Errors: number;
}

const IFNAME = 'eth0';
const BRIDGE = 'br0';
const MAX_HOSTS = 200;
/** The kernel's default `gso_max_segs` (GSO_MAX_SEGS) for veth, restored by setGsoRuns(host, true). */
const DEFAULT_GSO_MAX_SEGS = 65_535;
const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
/** How long destroy() waits for killed children to be reaped, so no 'exit' fires into a finished test. */
const REAP_WAIT_MS = 2_000;

export class Lab {
  readonly id: string;
  readonly hosts: readonly LabHost[];
  /** Namespace that holds the bridge. */
  readonly bridgeNetns: string;
  /** The lab's IPv4 subnet, e.g. '198.19.37.0/24'. */
  readonly subnet4: string;
  /** The lab's IPv6 subnet, e.g. '2001:2:0:125::/64'. */
  readonly subnet6: string;

  private readonly children = new Set<ChildProcess>();
  private readonly created: string[] = [];
  private destroyed = false;
  private readonly gsoRuns: boolean;

  private constructor(options: Required<LabOptions>) {
    this.gsoRuns = options.gsoRuns;
    this.id = `${LAB_PREFIX}-${process.pid}-${randomBytes(2).toString('hex')}-${options.name}`;
    this.bridgeNetns = `${this.id}-br`;
    // 512 /24s in 198.18.0.0/15; the IPv6 /64 uses the same number so the two plans line up.
    const subnet = randomInt(512);
    const v4Prefix = `198.${18 + (subnet >> 8)}.${subnet & 255}`;
    const v6Prefix = `2001:2:0:${subnet.toString(16)}`;
    this.subnet4 = `${v4Prefix}.0/24`;
    this.subnet6 = `${v6Prefix}::/64`;
    this.hosts = Array.from({ length: options.hosts }, (_, index) => ({
      index,
      name: `h${index}`,
      netns: `${this.id}-h${index}`,
      ipv4: `${v4Prefix}.${index + 1}`,
      // Canonical text (RFC 5952), as sockets report it: subnet 0 would otherwise read 2001:2:0:0::1 where a source says 2001:2::1.
      ipv6: new URL(`http://[${v6Prefix}::${(index + 1).toString(16)}]/`).hostname.slice(1, -1),
      ifname: IFNAME,
      bridgePort: `p${index}`,
    }));
  }

  /**
   * Builds a lab. Removes stale labs of dead processes first. On any setup
   * failure everything created so far is removed and the error is rethrown.
   */
  static async create(options: LabOptions): Promise<Lab> {
    const hosts = options.hosts;
    if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_HOSTS) throw new RangeError(`hosts must be an integer in 1..${MAX_HOSTS}, got ${hosts}`);
    const name = options.name ?? 'lab';
    if (!/^[a-z0-9]{1,8}$/i.test(name)) throw new RangeError(`lab name must be 1–8 letters or digits, got '${name}'`);
    await cleanupStale();
    const lab = new Lab({ hosts, name, gsoRuns: options.gsoRuns ?? false });
    registerLab(lab);
    try {
      await lab.build();
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  /** Removes lab namespaces whose owner process is dead; returns their names. */
  static cleanupStale(): Promise<string[]> {
    return cleanupStale();
  }

  /** Every namespace of this lab (hosts and bridge). */
  get namespaces(): string[] {
    return [...this.hosts.map((h) => h.netns), this.bridgeNetns];
  }

  host(ref: HostRef): LabHost {
    const host = typeof ref === 'number' ? this.hosts[ref] : this.hosts[ref.index];
    if (host === undefined || (typeof ref !== 'number' && host.netns !== ref.netns)) throw new RangeError(`no such host in lab ${this.id}: ${typeof ref === 'number' ? ref : ref.netns}`);
    return host;
  }

  private async build(): Promise<void> {
    const br = this.bridgeNetns;
    await this.addNamespace(br);
    // The bridge namespace only switches frames: no IPv6 on its ports, so it sends no MLD or RS of its own.
    await run(IP, ['netns', 'exec', br, SYSCTL, '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    await run(IP, ['-n', br, 'link', 'set', 'lo', 'up']);
    // Without STP a port forwards at once; forward_delay 0 makes sure of it. No snooping: flood all multicast.
    await run(IP, ['-n', br, 'link', 'add', 'name', BRIDGE, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0', 'mcast_snooping', '0']);
    await run(IP, ['-n', br, 'link', 'set', BRIDGE, 'up']);
    // Hosts are independent once the bridge exists; two at a time keeps a 2-core machine responsive.
    for (let i = 0; i < this.hosts.length; i += 2) {
      await Promise.all(this.hosts.slice(i, i + 2).map((host) => this.buildHost(host)));
    }
  }

  private async buildHost(host: LabHost): Promise<void> {
    const ns = host.netns;
    await this.addNamespace(ns);
    // Set before eth0 exists so it inherits 'default': no DAD, so the link-local address is usable at once too.
    await run(IP, ['netns', 'exec', ns, SYSCTL, '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    await run(IP, ['-n', ns, 'link', 'set', 'lo', 'up']);
    // Created inside the bridge namespace with the peer placed straight into the host: never in the root namespace.
    await run(IP, ['-n', this.bridgeNetns, 'link', 'add', host.bridgePort, 'type', 'veth', 'peer', 'name', IFNAME, 'netns', ns]);
    await run(IP, ['-n', this.bridgeNetns, 'link', 'set', host.bridgePort, 'master', BRIDGE, 'up']);
    await run(IP, ['-n', ns, 'addr', 'add', `${host.ipv4}/24`, 'dev', IFNAME]);
    await run(IP, ['-n', ns, '-6', 'addr', 'add', `${host.ipv6}/64`, 'dev', IFNAME, 'nodad']);
    // UDP GSO sends (runs of equal-size datagrams) would otherwise cross the veth pair and bridge as one
    // aggregate, and the loss rule would drop a whole run: with one segment per packet the interface cuts
    // them into datagrams (software GSO, as a NIC without segmentation offload would), so every datagram
    // meets loss on its own, as on a real wire. LabOptions.gsoRuns keeps the runs whole instead.
    if (!this.gsoRuns) await run(IP, ['-n', ns, 'link', 'set', IFNAME, 'gso_max_segs', '1']);
    await run(IP, ['-n', ns, 'link', 'set', IFNAME, 'up']);
    // There is no default route: multicast needs its own. IPv6 gets `multicast ff00::/8 dev eth0 table local` from the kernel when eth0 comes up.
    await run(IP, ['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', IFNAME]);
  }

  private async addNamespace(netns: string): Promise<void> {
    await run(IP, ['netns', 'add', netns]);
    this.created.push(netns);
  }

  /**
   * Drops a random fraction `rate` (0–1, resolution 1/10000) of the UDP datagrams
   * arriving at `host` (nftables input hook, so it applies to unicast and
   * multicast alike, before any socket sees them), and with `options.burst` also
   * runs of consecutive datagrams ({@link BurstLoss}). Replaces the previous rules
   * atomically; rate 0 without a burst removes them.
   */
  async setLoss(ref: HostRef, rate: number, options: LossOptions = {}): Promise<void> {
    const host = this.host(ref);
    if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new RangeError(`loss rate must be in 0..1, got ${rate}`);
    if (rate === 0 && options.burst === undefined) return this.clearLoss(host);
    const script = lossScript(rate, options);
    await run(IP, ['netns', 'exec', host.netns, NFT, '-f', '-'], { input: script });
  }

  /** Removes the loss rule of `host` (no-op when there is none). */
  async clearLoss(ref: HostRef): Promise<void> {
    const host = this.host(ref);
    const script = clearLossScript();
    await run(IP, ['netns', 'exec', host.netns, NFT, '-f', '-'], { input: script });
  }

  /** Datagrams the loss rules of `host` have dropped since they were last set (0 when there is none). */
  async lossDrops(ref: HostRef): Promise<number> {
    const drops = await this.lossDropsByRule(ref);
    return drops.burst + drops.random;
  }

  /** {@link lossDrops} by rule: bursts and single random drops apart. */
  async lossDropsByRule(ref: HostRef): Promise<LossDrops> {
    const host = this.host(ref);
    const r = await run(IP, ['netns', 'exec', host.netns, NFT, 'list', 'table', 'inet', LOSS_TABLE], { allowFailure: true });
    return r.ok ? parseLossDrops(r.stdout) : { burst: 0, random: 0 };
  }

  /**
   * Whether UDP GSO runs sent from `host` leave it whole (true: the kernel default,
   * one loss-rule match at a receiver drops the whole run) or cut into single
   * datagrams (false: `gso_max_segs 1`, the lab's default). See {@link LabOptions.gsoRuns}.
   */
  async setGsoRuns(ref: HostRef, whole: boolean): Promise<void> {
    const host = this.host(ref);
    await run(IP, ['-n', host.netns, 'link', 'set', IFNAME, 'gso_max_segs', String(whole ? DEFAULT_GSO_MAX_SEGS : 1)]);
  }

  /** The `gso_max_segs` of the host's eth0 (1 when GSO runs are cut into datagrams). */
  async gsoMaxSegs(ref: HostRef): Promise<number> {
    const host = this.host(ref);
    const r = await run(IP, ['-n', host.netns, '-d', 'link', 'show', IFNAME]);
    const m = /gso_max_segs (\d+)/.exec(r.stdout);
    if (!m) throw new Error(`no gso_max_segs in: ${r.stdout.trim()}`);
    return Number(m[1]);
  }

  /** Takes the host's link down or up (bridge side), e.g. to partition it from the others. */
  async setLinkUp(ref: HostRef, up: boolean): Promise<void> {
    const host = this.host(ref);
    await run(IP, ['-n', this.bridgeNetns, 'link', 'set', host.bridgePort, up ? 'up' : 'down']);
  }

  /** The host's kernel UDP counters. */
  async udpCounters(ref: HostRef): Promise<UdpCounters> {
    const host = this.host(ref);
    const snmp = (await this.exec(host, 'cat', ['/proc/net/snmp'])).stdout;
    const snmp6 = (await this.exec(host, 'cat', ['/proc/net/snmp6'])).stdout;
    const udp = parseSnmpPair(snmp, 'Udp:');
    const udp6 = new Map(snmp6.split('\n').map((line) => line.trim().split(/\s+/) as [string, string]).filter((p) => p.length === 2).map(([k, v]) => [k, Number(v)]));
    return {
      inDatagrams: udp.get('InDatagrams') ?? 0,
      rcvbufErrors: udp.get('RcvbufErrors') ?? 0,
      inErrors: udp.get('InErrors') ?? 0,
      noPorts: udp.get('NoPorts') ?? 0,
      outDatagrams: udp.get('OutDatagrams') ?? 0,
      in6Datagrams: udp6.get('Udp6InDatagrams') ?? 0,
      rcvbuf6Errors: udp6.get('Udp6RcvbufErrors') ?? 0,
      in6Errors: udp6.get('Udp6InErrors') ?? 0,
    };
  }

  /**
   * Starts `cmd args` inside `host` (`ip netns exec`, which execs the command,
   * so the child's pid is the command's). The lab keeps track of it and kills it
   * on {@link destroy}.
   */
  spawn(ref: HostRef, cmd: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw new Error(`lab ${this.id} is destroyed`);
    const host = this.host(ref);
    const child = spawnChild(IP, ['netns', 'exec', host.netns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...options });
    this.children.add(child);
    // A command that exits without reading its stdin makes our write fail with EPIPE: normal, not a test failure.
    child.stdin?.on('error', () => undefined);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  /** Starts a Node.js script (this Node binary) inside `host`. */
  spawnNode(ref: HostRef, script: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    return this.spawn(ref, process.execPath, [script, ...args], options);
  }

  /**
   * Runs `cmd args` inside `host` to completion. Never rejects for a non-zero exit: look at `code`.
   * `cmd` is looked up in PATH, which under npm starts with node_modules/.bin: pass system
   * tools by absolute path ({@link IP}, {@link NFT}, {@link systemBinary}).
   */
  exec(ref: HostRef, cmd: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
    const child = this.spawn(ref, cmd, args);
    return new Promise((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ stdout, stderr, code, signal });
      });
      child.stdin?.end(options.input ?? '');
    });
  }

  /**
   * Kills every child (and any other process inside the lab's namespaces) and
   * removes every namespace. Idempotent; never throws for what is already gone.
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const reaped = [...this.children].map((child) => exited(child));
    for (const child of this.children) child.kill('SIGKILL');
    // Hosts first: deleting a host namespace deletes its veth pair; the bridge goes last.
    for (const netns of [...this.created].reverse()) await removeNamespace(netns);
    await Promise.race([Promise.all(reaped), new Promise((resolve) => setTimeout(resolve, REAP_WAIT_MS).unref())]);
    unregisterLab(this);
  }

  /** {@link destroy} without awaiting anything, for process-exit hooks. */
  destroySync(): void {
    this.destroyed = true;
    for (const child of this.children) child.kill('SIGKILL');
    for (const netns of [...this.created].reverse()) removeNamespaceSync(netns);
    unregisterLab(this);
  }

  /** True once destroy() has started. */
  get isDestroyed(): boolean {
    return this.destroyed;
  }
}

/**
 * Runs `body` with a fresh lab and destroys the lab afterwards, whether `body`
 * returns or throws. Resolves with what `body` returns.
 */
export async function withLab<T>(options: LabOptions, body: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await Lab.create(options);
  try {
    return await body(lab);
  } finally {
    await lab.destroy();
  }
}

/** Path of a compiled fixture script (test/fixtures/NAME.ts → dist/test/fixtures/NAME.js). */
export function fixturePath(name: string): string {
  return join(__dirname, '..', 'fixtures', `${name}.js`);
}

/** Namespaces of this lab that still exist on the host (for tests of cleanup). */
export async function existingNamespaces(lab: Lab): Promise<string[]> {
  const all = new Set(await listNamespaces());
  return lab.namespaces.filter((netns) => all.has(netns));
}

/** Every lab namespace on the host, of any process (synchronous `ip netns list`). */
export function labNamespacesSync(): string[] {
  return listNamespacesSync().filter((netns) => netns.startsWith(`${LAB_PREFIX}-`));
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Parses the two-line `Udp: names…` / `Udp: values…` block of /proc/net/snmp. */
function parseSnmpPair(text: string, tag: string): Map<string, number> {
  const lines = text.split('\n').filter((line) => line.startsWith(tag));
  const names = (lines[0] ?? '').split(/\s+/).slice(1);
  const values = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
  return new Map(names.map((name, i) => [name, values[i] ?? 0]));
}
