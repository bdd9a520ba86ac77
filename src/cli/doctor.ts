/**
 * `blipcast doctor`: checks this host's multicast setup for a group and says,
 * per check, what it found and what to run to fix it (docs/doctor.md). The
 * checks are pure functions in ./doctor/ fed with what ./doctor/system.ts
 * reads; this file reads, opens the sockets the checks need (a transport for
 * the receive buffer, a channel for the join and the probe), and prints.
 */

import { networkInterfaces } from 'node:os';
import { createTransport, open, type Channel, type GroupAddress } from '../index';
import { COMMON_OPTIONS, groupArgument, intOption, parseOptions, secondsOption, type Parsed } from './args';
import { transportOption } from './common';
import { BLIPCAST_RECV_BUFFER_BYTES, checkReceiveBuffer } from './doctor/buffer';
import { checkFirewall } from './doctor/firewall';
import { checkInterface, checkRoute, checkRpFilter, checkTtl, interfaceName, type LinkState, type RouteLookup } from './doctor/interface';
import { checkIgmp, checkMulticastAll, type JoinOutcome } from './doctor/membership';
import { DEFAULT_PROBE_SECONDS, doctorMemberName, runProbe, summarize } from './doctor/probe';
import { exitCode, formatText, report, skipped, type CheckResult } from './doctor/report';
import { linkNames, readFirewall, readGroupTable, readLink, readRmemMax, readRpFilter, routeGet } from './doctor/system';
import { interfaceHint, isInterfaceError, joinFailure } from './interfaces';
import { UsageError } from './usage';

/** The group checked without --group: the one of the README's examples. */
export const DEFAULT_DOCTOR_GROUP = '239.255.0.1:5000';
/** The TTL open() uses when none is given (link-local), as the checks must assume it. */
const DEFAULT_TTL = 1;
/** Longest --probe-seconds: a probe is a check, not a load test. */
const MAX_PROBE_SECONDS = 600;

const OPTIONS = {
  interface: COMMON_OPTIONS.interface,
  ttl: COMMON_OPTIONS.ttl,
  transport: COMMON_OPTIONS.transport,
  help: COMMON_OPTIONS.help,
  group: { type: 'string' },
  rate: { type: 'string' },
  probe: { type: 'boolean' },
  'probe-seconds': { type: 'string' },
  json: { type: 'boolean' },
} as const;

interface DoctorArgs {
  group: GroupAddress;
  groupText: string;
  interface: string | undefined;
  ttl: number;
  ttlGiven: boolean;
  rateBytesPerSec: number | undefined;
  probeSeconds: number | undefined;
  json: boolean;
  values: Parsed['values'];
}

function parse(args: string[]): DoctorArgs {
  const { values, positionals } = parseOptions('doctor', args, OPTIONS);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (the group is --group GROUP:PORT)`);
  const groupText = typeof values.group === 'string' ? values.group : DEFAULT_DOCTOR_GROUP;
  const ttl = intOption(values, 'ttl', 0, 255);
  const probeMs = secondsOption(values, 'probe-seconds', MAX_PROBE_SECONDS);
  if (probeMs !== undefined && values.probe !== true) throw new UsageError('--probe-seconds goes with --probe');
  if (probeMs !== undefined && probeMs < 1000) throw new UsageError(`--probe-seconds must be at least 1 (got ${String(values['probe-seconds'])})`);
  return {
    group: groupArgument(groupText),
    groupText,
    interface: typeof values.interface === 'string' ? values.interface : undefined,
    ttl: ttl ?? DEFAULT_TTL,
    ttlGiven: ttl !== undefined,
    rateBytesPerSec: intOption(values, 'rate', 1, Number.MAX_SAFE_INTEGER),
    probeSeconds: values.probe === true ? (probeMs ?? DEFAULT_PROBE_SECONDS * 1000) / 1000 : undefined,
    json: values.json === true,
    values,
  };
}

/** The interface the checks are about: --interface, else the one of the route to the group. */
function chooseInterface(a: DoctorArgs): { name: string | undefined; route: RouteLookup | undefined } {
  if (a.interface !== undefined) {
    const name = interfaceName(a.interface, networkInterfaces());
    return { name, route: name === undefined ? undefined : routeGet(a.group.address, a.group.family, name) };
  }
  const route = routeGet(a.group.address, a.group.family, undefined);
  return { name: route?.ok === true ? route.route.dev : undefined, route };
}

function interfaceCheck(a: DoctorArgs, name: string | undefined, link: LinkState | undefined): CheckResult {
  if (a.interface !== undefined) return checkInterface(a.interface, name === undefined ? undefined : link, linkNames());
  if (name === undefined) return skipped('interface', 'interface: none to check (no --interface, and no route to the group names one)');
  const result = checkInterface(name, link, linkNames());
  return { ...result, detail: `${result.detail} (the route's; pass --interface to check another)` };
}

/** An interface to name in a fix: the first multicast-capable one that is not loopback, else 'eth0'. */
function exampleInterface(): string {
  const usable = (n: string): boolean => {
    const l = readLink(n);
    return l !== undefined && l.up && l.multicast && !l.loopback;
  };
  return linkNames().find(usable) ?? 'eth0';
}

function routeCheck(a: DoctorArgs, link: LinkState | undefined, route: RouteLookup | undefined): CheckResult {
  if (a.interface === undefined) return checkRoute(a.groupText, a.group.family, undefined, route, exampleInterface());
  if (link === undefined) return skipped('route', `route to ${a.groupText}: not checked (no interface ${a.interface})`);
  return checkRoute(a.groupText, a.group.family, link.name, route);
}

function openOptions(a: DoctorArgs): { group: string; interface?: string; ttl: number } {
  return { group: a.groupText, ...(a.interface !== undefined ? { interface: a.interface } : {}), ttl: a.ttl };
}

/** What the kernel grants a socket that asks for blipcast's receive buffer: a real transport of the kind open() would use. */
async function bufferCheck(a: DoctorArgs): Promise<CheckResult> {
  const kind = transportOption(a.values).transport;
  let transport;
  try {
    transport = await createTransport({ group: a.group.address, port: a.group.port, ...(a.interface !== undefined ? { interface: a.interface } : {}), ttl: a.ttl, recvBufferBytes: BLIPCAST_RECV_BUFFER_BYTES, ...(kind !== undefined ? { kind } : {}) });
  } catch (err) {
    return skipped('receive-buffer', `receive buffer: no socket could be opened on the group (${(err as Error).message})`);
  }
  const grantedBytes = transport.info.recvBufferBytes;
  await transport.close();
  return checkReceiveBuffer({ requestedBytes: BLIPCAST_RECV_BUFFER_BYTES, grantedBytes, rmemMaxBytes: readRmemMax(), rateBytesPerSec: a.rateBytesPerSec });
}

/** Opens the channel the join and the probe use; a failure becomes the join check's verdict. */
async function openChannel(a: DoctorArgs): Promise<{ channel: Channel } | { failure: JoinOutcome }> {
  try {
    const channel = await open({
      ...openOptions(a),
      ...transportOption(a.values),
      ...(a.probeSeconds !== undefined ? { member: { name: doctorMemberName(), metadata: { role: 'doctor' } } } : {}),
      // The doctor waits for nobody when it leaves: the probe's grace period already let the others finish.
      lingerMs: 0,
      closeQuietMs: 0,
    });
    // A send that fails at run time (no route out, a firewall on output) shows in the probe as missing echoes, not as a crash.
    channel.on('error', () => undefined);
    channel.readable.resume();
    return { channel };
  } catch (err) {
    const e = err as Error & { code?: string; syscall?: string };
    if (isInterfaceError(e)) return { failure: { ok: false, error: joinFailure(e), fix: interfaceHint() } };
    if (e.code === 'BLIPCAST_ERR_UNKNOWN_INTERFACE') return { failure: { ok: false, error: e.message, fix: interfaceHint() } };
    return { failure: { ok: false, error: `${e.message}${e.code !== undefined ? ` (${e.code})` : ''}` } };
  }
}

/** Runs every check; `progress` gets a line before the probe (text mode only). */
async function diagnose(a: DoctorArgs, progress: (line: string) => void): Promise<CheckResult[]> {
  const { address, family, port } = a.group;
  const { name, route } = chooseInterface(a);
  const link = name === undefined ? undefined : readLink(name);
  const datagram = { family, address, port, ifname: name };
  const checks: CheckResult[] = [
    interfaceCheck(a, name, link),
    routeCheck(a, link, route),
    checkRpFilter(link, family, name === undefined ? undefined : readRpFilter(name)),
    await bufferCheck(a),
    checkTtl(a.ttl, a.ttlGiven, link, address, family),
    checkFirewall(readFirewall(datagram), datagram),
  ];
  const opened = await openChannel(a);
  if ('failure' in opened) {
    checks.push(checkIgmp(opened.failure, undefined, address, family, name));
    checks.push(checkMulticastAll(undefined, family, port));
    if (a.probeSeconds !== undefined) checks.push(skipped('probe', 'probe: not run (the group could not be joined)'));
    return checks;
  }
  const { channel } = opened;
  try {
    checks.push(checkIgmp({ ok: true, ifname: channel.info.interface }, readGroupTable(family), address, family, name, link?.loopback === true));
    checks.push(checkMulticastAll(channel.info.transport, family, port));
    if (a.probeSeconds !== undefined) {
      progress(`probing ${a.groupText} for ${a.probeSeconds} s (run the same doctor --probe on the other hosts now)…`);
      checks.push(...summarize(await runProbe(channel, a.probeSeconds)));
    }
  } finally {
    await channel.close();
  }
  return checks;
}

export async function doctor(args: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  const a = parse(args);
  const checks = await diagnose(a, (line) => {
    if (!a.json) io.stderr.write(`${line}\n`);
  });
  const r = report(checks);
  io.stdout.write(a.json ? `${JSON.stringify(r)}\n` : formatText(r));
  return exitCode(r);
}
