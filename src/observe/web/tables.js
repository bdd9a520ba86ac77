// The page's tables, rebuilt from one snapshot. Everything the group says
// (names, metadata) goes in as text, never as HTML: it comes from the network.

export function label(name, id) {
  return name !== '' && name !== undefined ? name : shortId(id);
}

function shortId(id) {
  return id.length > 12 ? `${id.slice(0, 12)}…` : id;
}

export function number(value, digits = 0) {
  if (value === undefined || value === null || Number.isNaN(value)) return '–';
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(digits);
}

function row(tbody, cells, className) {
  const tr = document.createElement('tr');
  if (className) tr.className = className;
  for (const [text, cls] of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
  }
  tbody.append(tr);
  return tr;
}

function empty(tbody, columns, text) {
  const tr = document.createElement('tr');
  const td = document.createElement('td');
  td.colSpan = columns;
  td.className = 'muted';
  td.textContent = text;
  tr.append(td);
  tbody.append(tr);
}

/**
 * 'bad' (dropped by its source, or losing messages), 'warn' (any other reason
 * `blipcast top` marks it with '!': the server sends that as `troubled`, from
 * the one rule, isTroubled in src/observe/format.ts) or ''.
 */
export function receiverHealth(r) {
  if (r.state !== 'live' || r.lostPerSec > 0) return 'bad';
  return r.troubled ? 'warn' : '';
}

function memberHealth(m) {
  return m.state === 'dead' ? 'bad' : m.state === 'suspect' ? 'warn' : m.state === 'left' ? 'muted' : '';
}

/** How many receivers need a look and members are dead (for the summary line). */
export function problems(snapshot) {
  return snapshot.receivers.filter((r) => receiverHealth(r) !== '').length + snapshot.members.filter((m) => memberHealth(m) === 'bad').length;
}

export function bytes(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  if (n < 1000) return `${Math.round(n)} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)} MB`;
}

export function renderReceivers(tbody, snapshot) {
  tbody.replaceChildren();
  if (snapshot.receivers.length === 0) return empty(tbody, 12, 'no receiver heard yet (receivers report every 200 ms once a source sends)');
  for (const r of snapshot.receivers) {
    const tr = row(tbody, [
      [label(r.name, r.id), 'name'],
      [label(r.sourceName, r.sourceId)],
      [r.state],
      [number(r.lagMessages), 'num'],
      [bytes(r.readBacklogBytes), 'num'],
      [number(r.naksPerSec, 1), 'num'],
      [number(r.repairsPerSec, 1), 'num'],
      [number(r.lost), 'num'],
      [r.repairLatencyMs === undefined ? '–' : `${number(r.repairLatencyMs, 1)} ms`, 'num'],
      [number(r.kernelDrops), 'num'],
      [number(r.gapsOpen), 'num'],
      [`${number(r.lastHeardMsAgo / 1000, 1)} s`, 'num'],
    ], receiverHealth(r));
    tr.title = `${r.id}${r.address ? ` at ${r.address}` : ''}`;
  }
}

export function renderSources(tbody, snapshot) {
  tbody.replaceChildren();
  if (snapshot.sources.length === 0) return empty(tbody, 8, 'no source heard yet');
  for (const s of snapshot.sources) {
    row(tbody, [
      [label(s.name, s.id), 'name'],
      [s.id, 'mono'],
      [s.address ?? '–', 'mono'],
      [number(s.messagesPerSec, 1), 'num'],
      [number(s.bytesPerSec / 1e6, 3), 'num'],
      [number(s.messages), 'num'],
      [number(s.receivers), 'num'],
      [number(s.worstLagMessages), 'num'],
    ]);
  }
}

export function renderMembers(tbody, snapshot) {
  tbody.replaceChildren();
  if (snapshot.members.length === 0) return empty(tbody, 5, 'no member heard yet');
  const members = [...snapshot.members].sort((a, b) => Number(a.self) - Number(b.self) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  for (const m of members) {
    const metadata = Object.entries(m.metadata).map(([k, v]) => `${k}=${v}`).join(' ');
    row(tbody, [
      [m.self ? `${m.name} (this dashboard)` : m.name, 'name'],
      [m.id, 'mono'],
      [m.state],
      [metadata, 'mono'],
      [m.observer ? 'observer' : ''],
    ], memberHealth(m));
  }
}
