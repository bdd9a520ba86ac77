/**
 * Reading the system for the doctor's checks: /sys, /proc and the commands
 * `ip`, `nft`, `iptables-save`. Every reader returns undefined (or says why)
 * where the fact is not available, and never throws: the check then skips
 * with the reason. System tools are taken from the system directories only:
 * under npm, PATH starts with node_modules/.bin, where `nft` is an unrelated
 * program (@vercel/nft).
 */

import { execFileSync } from 'node:child_process';
import { accessSync, constants as fsConstants, readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { parseIptablesSave, parseNftRuleset, type Datagram, type FirewallSource } from './firewall';
import { linkFromFlags, linkFromIpJson, type LinkState, type RouteLookup, type RpFilter } from './interface';
import { parseIgmp, parseIgmp6, type GroupTable } from './membership';

const SYSTEM_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/local/bin'];
const COMMAND_TIMEOUT_MS = 5000;

/** Absolute path of a system tool, or undefined when none of the system directories has it. */
export function systemBinary(name: string): string | undefined {
  for (const dir of SYSTEM_DIRS) {
    const path = join(dir, name);
    try {
      accessSync(path, fsConstants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

type CommandResult = { ok: true; stdout: string } | { ok: false; error: string };

function command(path: string, args: readonly string[]): CommandResult {
  try {
    return { ok: true, stdout: execFileSync(path, args, { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { ok: false, error: (e.stderr ?? '').trim().split('\n')[0] || e.message };
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function readInt(path: string): number | undefined {
  const text = readText(path)?.trim();
  if (text === undefined) return undefined;
  const n = text.startsWith('0x') ? Number.parseInt(text, 16) : Number(text);
  return Number.isInteger(n) ? n : undefined;
}

/** This host's interface names (/sys/class/net, else those with an address). */
export function linkNames(): string[] {
  try {
    return readdirSync('/sys/class/net').sort();
  } catch {
    return Object.keys(networkInterfaces()).sort();
  }
}

/** The interface's flags from sysfs, else from `ip -j link show`; undefined when it does not exist. */
export function readLink(name: string): LinkState | undefined {
  if (name.includes('/') || name.startsWith('.')) return undefined;
  const flags = readInt(`/sys/class/net/${name}/flags`);
  if (flags !== undefined) return linkFromFlags(name, flags, readText(`/sys/class/net/${name}/operstate`)?.trim());
  const ip = systemBinary('ip');
  if (ip === undefined) return undefined;
  const r = command(ip, ['-j', 'link', 'show', 'dev', name]);
  if (!r.ok) return undefined;
  const entries = JSON.parse(r.stdout) as { ifname: string; flags?: string[]; operstate?: string }[];
  return entries[0] !== undefined ? linkFromIpJson(entries[0]) : undefined;
}

/** `ip -j route get ADDRESS [oif IF]`; undefined when `ip` is not installed. */
export function routeGet(address: string, family: 4 | 6, oif: string | undefined): RouteLookup | undefined {
  const ip = systemBinary('ip');
  if (ip === undefined) return undefined;
  const r = command(ip, ['-j', family === 6 ? '-6' : '-4', 'route', 'get', address, ...(oif !== undefined ? ['oif', oif] : [])]);
  if (!r.ok) return { ok: false, error: r.error.replace(/^RTNETLINK answers: /, '') };
  try {
    const routes = JSON.parse(r.stdout) as { dev?: string; type?: string; gateway?: string; prefsrc?: string }[];
    const first = routes[0];
    if (first?.dev === undefined) return { ok: false, error: 'no route' };
    return { ok: true, route: { dev: first.dev, ...(first.type !== undefined ? { type: first.type } : {}), ...(first.gateway !== undefined ? { gateway: first.gateway } : {}), ...(first.prefsrc !== undefined ? { prefsrc: first.prefsrc } : {}) } };
  } catch {
    return { ok: false, error: `unexpected output of ip route get: ${r.stdout.slice(0, 80)}` };
  }
}

export function readRpFilter(ifname: string): RpFilter {
  const all = readInt('/proc/sys/net/ipv4/conf/all/rp_filter');
  const iface = readInt(`/proc/sys/net/ipv4/conf/${ifname}/rp_filter`);
  return { ...(all !== undefined ? { all } : {}), ...(iface !== undefined ? { iface } : {}) };
}

/** net.core.rmem_max; undefined where it is not readable. */
export function readRmemMax(): number | undefined {
  return readInt('/proc/sys/net/core/rmem_max');
}

export function readGroupTable(family: 4 | 6): GroupTable | undefined {
  const text = readText(family === 4 ? '/proc/net/igmp' : '/proc/net/igmp6');
  return text === undefined ? undefined : family === 4 ? parseIgmp(text) : parseIgmp6(text);
}

/** The rulesets of nftables and of iptables (-save), each read or the reason it could not be. */
export function readFirewall(d: Datagram): FirewallSource[] {
  const sources: FirewallSource[] = [];
  let nftRead = false;
  const nft = systemBinary('nft');
  if (nft === undefined) sources.push({ tool: 'nft', unavailable: 'not installed' });
  else {
    const r = command(nft, ['-j', 'list', 'ruleset']);
    if (!r.ok) sources.push({ tool: 'nft', unavailable: r.error });
    else {
      try {
        sources.push({ tool: 'nft', ruleset: parseNftRuleset(r.stdout, d) });
        nftRead = true;
      } catch (err) {
        sources.push({ tool: 'nft', unavailable: `unreadable output (${(err as Error).message})` });
      }
    }
  }
  const tool = d.family === 4 ? 'iptables' : 'ip6tables';
  const save = systemBinary(`${tool}-save`);
  if (save !== undefined) {
    const r = command(save, []);
    if (!r.ok) sources.push({ tool, unavailable: r.error });
    // iptables-nft keeps its rules in nftables, which were read above.
    else if (!(nftRead && /iptables-nft/.test(r.stdout))) sources.push({ tool, ruleset: parseIptablesSave(r.stdout, tool, d) });
  }
  return sources;
}
