/**
 * Firewall rules that drop the group's UDP datagrams before any socket sees
 * them: nftables (`nft -j list ruleset`) and iptables (`iptables-save`). Both
 * are read into one small model — chains of rules, each rule matching a
 * datagram to the group's port `always`, `maybe` (it also tests something
 * this check cannot know: the source, conntrack state, a random number…) or
 * `never` — and walked the way the kernel walks them, from every base chain
 * on the input path (hooks ingress, prerouting, input). Pure: the ruleset
 * text comes from system.ts.
 */

import type { CheckResult } from './report';

/** The datagram a receiver of the group must get. */
export interface Datagram {
  family: 4 | 6;
  /** The group address (destination). */
  address: string;
  port: number;
  /** The interface it comes in on, when known. */
  ifname: string | undefined;
}

type Tri = 'always' | 'maybe' | 'never';
type Verdict = 'drop' | 'reject' | 'accept' | 'jump' | 'goto' | 'return' | 'none';

interface Rule {
  /** Where it is, for the report: `nft rule inet filter input handle 7`, `iptables -t filter INPUT rule 3`. */
  where: string;
  /** The rule, shortened: `udp dport 5000 drop`. */
  text: string;
  /** The command that deletes it. */
  deleteFix: string;
  match: Tri;
  /** What made the match `maybe`. */
  unknowns: string[];
  verdict: Verdict;
  target?: string;
}

interface Chain {
  label: string;
  policy: 'accept' | 'drop' | undefined;
  rules: Rule[];
  /** The command that accepts the datagram at the top of this chain. */
  acceptFix: string;
}

export interface Ruleset {
  tool: 'nft' | 'iptables' | 'ip6tables';
  chains: Map<string, Chain>;
  /** Keys of the base chains the datagram goes through, in order. */
  bases: string[];
}

/** What dropped (or may drop) the datagram. */
export interface Finding {
  certain: boolean;
  detail: string;
  fix: string;
}

const INPUT_HOOKS = new Set(['ingress', 'prerouting', 'input']);
/** nft statements that neither test the packet nor decide its fate. */
const NEUTRAL_STATEMENTS = new Set(['counter', 'log', 'comment', 'mangle', 'notrack', 'meta']);
const MAX_JUMP_DEPTH = 16;

function and(a: Tri, b: Tri): Tri {
  if (a === 'never' || b === 'never') return 'never';
  return a === 'maybe' || b === 'maybe' ? 'maybe' : 'always';
}

function not(a: Tri): Tri {
  return a === 'always' ? 'never' : a === 'never' ? 'always' : 'maybe';
}

function ipv4ToInt(address: string): number | undefined {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** Whether IPv4 `address` is in `prefix`/`len`; undefined when either is not IPv4. */
function inPrefix(address: string, prefix: string, len: number): boolean | undefined {
  const a = ipv4ToInt(address);
  const p = ipv4ToInt(prefix);
  if (a === undefined || p === undefined) return undefined;
  const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
  return ((a & mask) >>> 0) === ((p & mask) >>> 0);
}

// ---------------------------------------------------------------- nftables

/** One value of an nft JSON match's right-hand side against a number or string; undefined when it cannot be judged. */
/** Elements of the named sets of a ruleset, by `family table name`. */
type NamedSets = ReadonlyMap<string, unknown[]>;

interface ValueContext {
  test: (v: string | number) => boolean | undefined;
  range: (lo: number, hi: number) => boolean | undefined;
  sets: NamedSets;
  /** `family table` of the rule, where its named sets live. */
  table: string;
}

function anyOf(items: unknown[], c: ValueContext): boolean | undefined {
  let unknown = false;
  for (const item of items) {
    const r = nftValueHas(item, c);
    if (r === true) return true;
    if (r === undefined) unknown = true;
  }
  return unknown ? undefined : false;
}

function nftValueHas(right: unknown, c: ValueContext): boolean | undefined {
  if (typeof right === 'string' && right.startsWith('@')) {
    const elements = c.sets.get(`${c.table} ${right.slice(1)}`);
    return elements === undefined ? undefined : anyOf(elements, c);
  }
  if (typeof right === 'number' || typeof right === 'string') return c.test(right);
  if (Array.isArray(right)) return anyOf(right, c);
  if (right !== null && typeof right === 'object') {
    const o = right as Record<string, unknown>;
    if (Array.isArray(o['range'])) return c.range(Number(o['range'][0]), Number(o['range'][1]));
    if (Array.isArray(o['set'])) return anyOf(o['set'], c);
    // An element with its own counter or timeout: {"elem": {"val": 5000, …}}.
    if (o['elem'] !== undefined) return nftValueHas((o['elem'] as { val?: unknown }).val, c);
    if (o['prefix'] !== undefined) {
      const p = o['prefix'] as { addr: string; len: number };
      return c.test(`${p.addr}/${p.len}`);
    }
  }
  return undefined;
}

function fromBool(b: boolean | undefined): Tri {
  return b === undefined ? 'maybe' : b ? 'always' : 'never';
}

interface NftMatch {
  op?: string;
  left: unknown;
  right: unknown;
}

/** Judges one nft `match` statement against the datagram; `label` is what it tests, for the rule's text. */
function nftMatch(m: NftMatch, d: Datagram, sets: NamedSets, table: string): { tri: Tri; label: string } {
  const left = m.left as Record<string, Record<string, string> | undefined>;
  const negate = m.op === '!=';
  const port = (v: string | number): boolean | undefined => (typeof v === 'number' ? v === d.port : /^\d+$/.test(v) ? Number(v) === d.port : undefined);
  const portRange = (lo: number, hi: number): boolean => d.port >= lo && d.port <= hi;
  const noRange = (): undefined => undefined;
  const has = (test: ValueContext['test'], range: ValueContext['range'] = noRange): boolean | undefined => nftValueHas(m.right, { test, range, sets, table });
  const isUdp = (v: string | number): boolean => v === 'udp' || v === 17;
  let tri: Tri = 'maybe';
  let label = 'a condition';
  const payload = left['payload'];
  const meta = left['meta'];
  if (payload !== undefined) {
    const { protocol, field } = payload as { protocol?: string; field?: string };
    label = `${protocol} ${field}`;
    if ((protocol === 'udp' || protocol === 'th') && field === 'dport') tri = fromBool(has(port, portRange));
    else if (protocol === 'tcp' || protocol === 'sctp' || protocol === 'dccp') tri = 'never';
    else if ((protocol === 'ip' && field === 'protocol') || (protocol === 'ip6' && field === 'nexthdr')) tri = fromBool(has(isUdp));
    else if (protocol === 'ip' && field === 'daddr' && d.family === 4) {
      const daddr = (v: string | number): boolean | undefined => (typeof v !== 'string' ? undefined : v.includes('/') ? inPrefix(d.address, v.split('/')[0]!, Number(v.split('/')[1])) : v === d.address);
      tri = fromBool(has(daddr));
    }
    if ((protocol === 'ip' && d.family === 6) || (protocol === 'ip6' && d.family === 4)) tri = 'never';
  } else if (meta !== undefined) {
    const key = (meta as { key?: string }).key;
    label = `meta ${key}`;
    if (key === 'l4proto') tri = fromBool(has(isUdp));
    else if (key === 'nfproto') tri = fromBool(has((v) => v === (d.family === 4 ? 'ipv4' : 'ipv6')));
    else if (key === 'pkttype') tri = fromBool(has((v) => v === 'multicast'));
    else if ((key === 'iifname' || key === 'iif') && d.ifname !== undefined) {
      const name = d.ifname;
      tri = fromBool(has((v) => (typeof v !== 'string' ? undefined : v.endsWith('*') ? name.startsWith(v.slice(0, -1)) : v === name)));
    }
  } else if (left['ct'] !== undefined) {
    const key = (left['ct'] as { key?: string }).key;
    label = `ct ${key}`;
    // No reply ever comes from a group address, so conntrack sees every datagram to the group as new.
    if (key === 'state') tri = fromBool(has((v) => v === 'new'));
  }
  else if (left['numgen'] !== undefined) label = 'numgen';
  return { tri: negate ? not(tri) : tri, label };
}

/** The right-hand side of a match as nft prints it: `5000`, `6000-6100`, `{ 5000, 5353 }`, `@blocked`, `10.0.0.0/8`. */
function nftValueText(right: unknown): string {
  if (typeof right === 'number' || typeof right === 'string') return String(right);
  if (Array.isArray(right)) return `{ ${right.map(nftValueText).join(', ')} }`;
  if (right !== null && typeof right === 'object') {
    const o = right as Record<string, unknown>;
    if (Array.isArray(o['range'])) return `${String(o['range'][0])}-${String(o['range'][1])}`;
    if (Array.isArray(o['set'])) return nftValueText(o['set']);
    if (o['prefix'] !== undefined) return `${(o['prefix'] as { addr: string }).addr}/${(o['prefix'] as { len: number }).len}`;
    if (o['elem'] !== undefined) return nftValueText((o['elem'] as { val?: unknown }).val);
  }
  return '…';
}

function nftRule(r: Record<string, unknown>, d: Datagram, sets: NamedSets): Rule {
  const { family, table, chain, handle } = r as { family: string; table: string; chain: string; handle: number };
  const exprs = (r['expr'] as Record<string, unknown>[] | undefined) ?? [];
  let match: Tri = 'always';
  const unknowns: string[] = [];
  const words: string[] = [];
  let verdict: Verdict = 'none';
  let target: string | undefined;
  for (const e of exprs) {
    if (e['match'] !== undefined) {
      const { tri, label } = nftMatch(e['match'] as NftMatch, d, sets, `${family} ${table}`);
      match = and(match, tri);
      if (tri === 'maybe') unknowns.push(label);
      words.push(`${label}${(e['match'] as NftMatch).op === '!=' ? ' !=' : ''} ${nftValueText((e['match'] as NftMatch).right)}`);
    } else if ('drop' in e || 'reject' in e || 'accept' in e || 'return' in e) {
      verdict = ('drop' in e ? 'drop' : 'reject' in e ? 'reject' : 'accept' in e ? 'accept' : 'return') as Verdict;
      words.push(verdict);
    } else if (e['jump'] !== undefined || e['goto'] !== undefined) {
      verdict = e['jump'] !== undefined ? 'jump' : 'goto';
      target = (e[verdict] as { target: string }).target;
      words.push(`${verdict} ${target}`);
    } else {
      const key = Object.keys(e)[0] ?? '?';
      if (!NEUTRAL_STATEMENTS.has(key)) {
        // limit, quota, xt (an iptables-nft match), …: a condition this check cannot judge.
        match = and(match, 'maybe');
        unknowns.push(key);
        words.push(key);
      }
    }
  }
  const comment = typeof r['comment'] === 'string' ? ` comment "${r['comment']}"` : '';
  return {
    where: `nft rule ${family} ${table} ${chain} handle ${handle}`,
    text: words.join(' ') + comment,
    deleteFix: `nft delete rule ${family} ${table} ${chain} handle ${handle}`,
    match,
    unknowns,
    verdict,
    ...(target !== undefined ? { target: `${family} ${table} ${target}` } : {}),
  };
}

/** Reads the output of `nft -j list ruleset`. @throws SyntaxError for text that is not its JSON. */
export function parseNftRuleset(json: string, d: Datagram): Ruleset {
  const doc = JSON.parse(json) as { nftables?: Record<string, Record<string, unknown>>[] };
  const chains = new Map<string, Chain>();
  const bases: { key: string; prio: number; hook: number }[] = [];
  const families = d.family === 4 ? ['ip', 'inet', 'netdev'] : ['ip6', 'inet', 'netdev'];
  const sets = new Map<string, unknown[]>();
  for (const item of doc.nftables ?? []) {
    const set = item['set'] as { family: string; table: string; name: string; elem?: unknown[] } | undefined;
    if (set !== undefined) sets.set(`${set.family} ${set.table} ${set.name}`, set.elem ?? []);
    const c = item['chain'];
    if (c === undefined) continue;
    const { family, table, name, hook, policy, prio } = c as { family: string; table: string; name: string; hook?: string; policy?: string; prio?: number };
    const key = `${family} ${table} ${name}`;
    chains.set(key, {
      label: `nft chain ${key}`,
      policy: policy === 'drop' ? 'drop' : policy === 'accept' ? 'accept' : undefined,
      rules: [],
      acceptFix: `nft insert rule ${family} ${table} ${name} udp dport ${d.port} accept`,
    });
    if (hook !== undefined && INPUT_HOOKS.has(hook) && families.includes(family)) bases.push({ key, prio: prio ?? 0, hook: ['ingress', 'prerouting', 'input'].indexOf(hook) });
  }
  for (const item of doc.nftables ?? []) {
    const r = item['rule'];
    if (r === undefined) continue;
    const { family, table, chain } = r as { family: string; table: string; chain: string };
    chains.get(`${family} ${table} ${chain}`)?.rules.push(nftRule(r, d, sets));
  }
  bases.sort((a, b) => a.hook - b.hook || a.prio - b.prio);
  return { tool: 'nft', chains, bases: bases.map((b) => b.key) };
}

// ---------------------------------------------------------------- iptables

/** Chains of iptables-save on the input path, per table. */
const IPT_INPUT_CHAINS: Record<string, string[]> = { raw: ['PREROUTING'], mangle: ['PREROUTING', 'INPUT'], filter: ['INPUT'] };

function iptRule(tool: 'iptables' | 'ip6tables', table: string, chain: string, index: number, spec: string[], d: Datagram, userChains: ReadonlyMap<string, Chain>): Rule {
  let match: Tri = 'always';
  const unknowns: string[] = [];
  let verdict: Verdict = 'none';
  let target: string | undefined;
  let negate = false;
  const judge = (tri: Tri, label: string): void => {
    const t = negate ? not(tri) : tri;
    negate = false;
    match = and(match, t);
    if (t === 'maybe') unknowns.push(label);
  };
  const ports = (text: string): boolean =>
    text.split(',').some((p) => {
      const [lo, hi] = p.split(':').map(Number);
      return hi === undefined ? lo === d.port : d.port >= lo! && d.port <= hi;
    });
  for (let i = 0; i < spec.length; i++) {
    const w = spec[i]!;
    const v = spec[i + 1] ?? '';
    if (w === '!') negate = true;
    else if (w === '-p' || w === '--protocol') (judge(v === 'udp' || v === '17' || v === 'all' ? 'always' : 'never', 'protocol'), i++);
    else if (w === '--dport' || w === '--destination-port' || w === '--dports' || w === '--destination-ports') (judge(ports(v) ? 'always' : 'never', 'dport'), i++);
    else if (w === '-i' || w === '--in-interface') {
      const name = d.ifname;
      judge(name === undefined ? 'maybe' : (v.endsWith('+') ? name.startsWith(v.slice(0, -1)) : v === name) ? 'always' : 'never', 'in-interface');
      i++;
    } else if (w === '-d' || w === '--destination') {
      const [addr, len] = v.split('/');
      const inside = d.family === 4 ? inPrefix(d.address, addr!, len === undefined ? 32 : Number(len)) : undefined;
      judge(fromBool(inside), 'destination');
      i++;
    } else if (w === '--state' || w === '--ctstate') (judge(v.split(',').includes('NEW') ? 'always' : 'never', 'state'), i++);
    else if (w === '--pkt-type') (judge(v === 'multicast' ? 'always' : 'never', 'pkt-type'), i++);
    else if (w === '-j' || w === '-g') {
      const t = v.toUpperCase();
      // A target that is no chain of the table is an extension (LOG, MARK, CT…): it lets the datagram go on.
      verdict = t === 'DROP' ? 'drop' : t === 'REJECT' ? 'reject' : t === 'ACCEPT' ? 'accept' : t === 'RETURN' ? 'return' : !userChains.has(`${table} ${v}`) ? 'none' : w === '-j' ? 'jump' : 'goto';
      if (verdict === 'jump' || verdict === 'goto') target = `${table} ${v}`;
      i++;
    } else if (w === '-m') i++;
    else if (w.startsWith('-') && !w.startsWith('--')) (judge('maybe', w), i++);
    else if (w.startsWith('--')) {
      // Options of match modules (--state, --limit, --ctstate, …): conditions this check does not know.
      judge('maybe', w.slice(2));
      while (spec[i + 1] !== undefined && !spec[i + 1]!.startsWith('-')) i++;
    }
  }
  return {
    where: `${tool} -t ${table} ${chain} rule ${index}`,
    text: spec.join(' '),
    deleteFix: `${tool} -t ${table} -D ${chain} ${spec.join(' ')}`,
    match,
    unknowns,
    verdict,
    ...(target !== undefined ? { target } : {}),
  };
}

/** Reads the output of `iptables-save` (or `ip6tables-save`). */
export function parseIptablesSave(text: string, tool: 'iptables' | 'ip6tables', d: Datagram): Ruleset {
  const chains = new Map<string, Chain>();
  const bases: string[] = [];
  const counts = new Map<string, number>();
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/);
      const key = `${table} ${name}`;
      chains.set(key, { label: `${tool} -t ${table} chain ${name}`, policy: policy === 'DROP' ? 'drop' : policy === 'ACCEPT' ? 'accept' : undefined, rules: [], acceptFix: `${tool} -t ${table} -I ${name} -p udp --dport ${d.port} -j ACCEPT` });
    } else if (line.startsWith('-A ')) {
      const words = line.split(/\s+/).map((w) => w.replace(/^"(.*)"$/, '$1'));
      const name = words[1]!;
      const key = `${table} ${name}`;
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      chains.get(key)?.rules.push(iptRule(tool, table, name, n, words.slice(2), d, chains));
    }
  }
  for (const t of ['raw', 'mangle', 'filter']) for (const c of IPT_INPUT_CHAINS[t]!) if (chains.has(`${t} ${c}`)) bases.push(`${t} ${c}`);
  return { tool, chains, bases };
}

// ---------------------------------------------------------------- the walk

type Outcome = 'accepted' | 'dropped' | 'continue';

function walk(rs: Ruleset, key: string, conditional: boolean, depth: number, findings: Finding[], d: Datagram): Outcome {
  const chain = rs.chains.get(key);
  if (chain === undefined || depth > MAX_JUMP_DEPTH) return 'continue';
  for (const rule of chain.rules) {
    if (rule.match === 'never') continue;
    const maybe = conditional || rule.match === 'maybe';
    if (rule.verdict === 'drop' || rule.verdict === 'reject') {
      const what = maybe ? `may ${rule.verdict}` : `${rule.verdict}s`;
      const depends = rule.unknowns.length > 0 ? ` (depending on ${[...new Set(rule.unknowns)].join(', ')})` : conditional ? ' (in a chain jumped to on a condition)' : '';
      findings.push({ certain: !maybe, detail: `${rule.where} ${what} udp to port ${d.port}${depends}: ${rule.text}`, fix: rule.deleteFix });
      if (!maybe) return 'dropped';
    } else if (rule.verdict === 'accept' && !maybe) return 'accepted';
    else if ((rule.verdict === 'jump' || rule.verdict === 'goto') && rule.target !== undefined) {
      const r = walk(rs, rule.target, maybe, depth + 1, findings, d);
      if (r !== 'continue' && !maybe) return r;
    } else if (rule.verdict === 'return' && !maybe) return 'continue';
  }
  if (depth === 0 && chain.policy === 'drop') {
    const hadMaybeAccept = chain.rules.some((r) => r.match === 'maybe' && r.verdict === 'accept');
    findings.push({
      certain: !conditional && !hadMaybeAccept,
      detail: `${chain.label}: policy drop, and no rule accepts udp to port ${d.port}${hadMaybeAccept ? ' for sure (some accept on conditions)' : ''}`,
      fix: chain.acceptFix,
    });
    return 'dropped';
  }
  return 'continue';
}

/** Every rule (and drop policy) on the input path that drops or may drop the datagram. */
export function findDrops(rs: Ruleset, d: Datagram): Finding[] {
  const findings: Finding[] = [];
  for (const base of rs.bases) walk(rs, base, false, 0, findings, d);
  return findings;
}

/** What was read: each tool's ruleset, or why it could not be. */
export type FirewallSource = { tool: string; ruleset: Ruleset } | { tool: string; unavailable: string };

export function checkFirewall(sources: readonly FirewallSource[], d: Datagram): CheckResult {
  const findings: Finding[] = [];
  const read: string[] = [];
  const notRead: string[] = [];
  for (const s of sources) {
    if ('ruleset' in s) {
      read.push(s.tool);
      findings.push(...findDrops(s.ruleset, d));
    } else notRead.push(`${s.tool}: ${s.unavailable}`);
  }
  if (read.length === 0) return { name: 'firewall', status: 'skip', detail: `firewall: not checked (${notRead.join('; ') || 'no nft or iptables-save'})` };
  const certain = findings.filter((f) => f.certain);
  const shown = certain.length > 0 ? certain : findings;
  if (shown.length > 0) {
    return {
      name: 'firewall',
      status: certain.length > 0 ? 'fail' : 'warn',
      detail: `firewall: ${shown.map((f) => f.detail).join('; ')}`,
      fix: shown.map((f) => f.fix).join('\n'),
    };
  }
  const skippedNote = notRead.length > 0 ? `; not read: ${notRead.join('; ')}` : '';
  return { name: 'firewall', status: 'pass', detail: `firewall: no ${read.join(' or ')} rule drops udp to port ${d.port}${skippedNote}` };
}
