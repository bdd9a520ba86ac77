// The page's tables, rebuilt from one snapshot (and the one before it, to see
// what grew). Everything the group says (names, metadata) goes in as text,
// never as HTML: it comes from the network.

/** A receiver more messages behind than its source sends in this long is flagged, ms. */
const LAG_WARN_MS = 1000;
/** ...and never for fewer messages than this (a slow source is not "behind" by a handful). */
const LAG_WARN_MIN_MESSAGES = 100;
/** A receiver not heard from for this long is flagged, ms (STATUS comes about every second under traffic). */
const SILENT_WARN_MS = 3000;

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

/** 'bad', 'warn' or '' for one receiver row. */
export function receiverHealth(r, previous, source) {
  if (r.state === 'dropped' || r.lostPerSec > 0) return 'bad';
  const lagLimit = Math.max(LAG_WARN_MIN_MESSAGES, ((source?.messagesPerSec ?? 0) * LAG_WARN_MS) / 1000);
  const kernelDropsGrew = previous !== undefined && r.kernelDrops > previous.kernelDrops;
  if (r.naksPerSec > 0 || r.gapsOpen > 0 || r.lagMessages > lagLimit || kernelDropsGrew || r.lastHeardMsAgo > SILENT_WARN_MS) return 'warn';
  return '';
}

function memberHealth(m) {
  return m.state === 'dead' ? 'bad' : m.state === 'suspect' ? 'warn' : m.state === 'left' ? 'muted' : '';
}

const receiverKey = (r) => `${r.id}/${r.sourceId}`;

/** How many receivers and members look bad (for the summary line). */
export function problems(snapshot, previousSnapshot) {
  const before = new Map((previousSnapshot?.receivers ?? []).map((r) => [receiverKey(r), r]));
  const sources = new Map(snapshot.sources.map((s) => [s.id, s]));
  const receivers = snapshot.receivers.filter((r) => receiverHealth(r, before.get(receiverKey(r)), sources.get(r.sourceId)) === 'bad').length;
  return receivers + snapshot.members.filter((m) => memberHealth(m) === 'bad').length;
}

export function renderReceivers(tbody, snapshot, previousSnapshot) {
  const before = new Map((previousSnapshot?.receivers ?? []).map((r) => [receiverKey(r), r]));
  const sources = new Map(snapshot.sources.map((s) => [s.id, s]));
  tbody.replaceChildren();
  if (snapshot.receivers.length === 0) return empty(tbody, 11, 'no receiver has reported yet');
  for (const r of snapshot.receivers) {
    const tr = row(tbody, [
      [label(r.name, r.id), 'name'],
      [label(r.sourceName, r.sourceId)],
      [r.state],
      [number(r.lagMessages), 'num'],
      [number(r.naksPerSec, 1), 'num'],
      [number(r.repairsPerSec, 1), 'num'],
      [number(r.lost), 'num'],
      [r.repairLatencyMs === undefined ? '–' : `${number(r.repairLatencyMs, 1)} ms`, 'num'],
      [number(r.kernelDrops), 'num'],
      [number(r.gapsOpen), 'num'],
      [`${number(r.lastHeardMsAgo / 1000, 1)} s`, 'num'],
    ], receiverHealth(r, before.get(receiverKey(r)), sources.get(r.sourceId)));
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
