// The dashboard page: one WebSocket to the dashboard's server (reconnecting
// when it drops), the last five minutes of snapshots kept here, the tables and
// charts redrawn from them at each snapshot. Plain modules, no build step.

import { Charts } from './charts.js';
import { renderMembers, renderReceivers, renderSources, problems } from './tables.js';

/** Snapshots kept for the charts, ms. */
const HISTORY_MS = 5 * 60_000;
/** Reconnect delays: the first retry after RETRY_FIRST_MS, doubling up to RETRY_MAX_MS. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 5000;

const $ = (selector) => document.querySelector(selector);

/** @type {object[]} GroupSnapshot objects (src/observe/types.ts), oldest first. */
const history = [];
const charts = new Charts(document.querySelectorAll('figure.chart'));
let retryMs = RETRY_FIRST_MS;
let lastMessageAt = 0;

function setStatus(state, text) {
  const status = $('#status');
  status.dataset.state = state;
  status.textContent = text;
}

function keep(snapshot) {
  const last = history[history.length - 1];
  // Another group (the dashboard was restarted elsewhere): its history is not this one's.
  if (last !== undefined && last.group !== snapshot.group) history.length = 0;
  // On reconnect the server sends its latest snapshot first, which may be one already held.
  else if (last !== undefined && snapshot.time <= last.time) return false;
  history.push(snapshot);
  while (history.length > 0 && history[0].time < snapshot.time - HISTORY_MS) history.shift();
  return true;
}

function render() {
  const snapshot = history[history.length - 1];
  $('#group').textContent = snapshot.group;
  document.title = `blipcast ${snapshot.group}`;
  const bad = problems(snapshot);
  $('#summary').textContent = `${snapshot.members.length} members · ${snapshot.sources.length} sources · ${snapshot.receivers.length} receivers` +
    (bad > 0 ? ` · ${bad} need a look` : '');
  $('#summary').classList.toggle('bad', bad > 0);
  renderReceivers($('#receivers tbody'), snapshot);
  renderSources($('#sources tbody'), snapshot);
  renderMembers($('#members tbody'), snapshot);
  charts.update(history);
}

function tick() {
  if (lastMessageAt === 0) return;
  const ago = Math.round((Date.now() - lastMessageAt) / 1000);
  $('#updated').textContent = ago <= 1 ? 'live' : `last update ${ago} s ago`;
}

function connect() {
  const url = new URL('ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  setStatus('connecting', 'connecting…');
  const ws = new WebSocket(url);
  ws.addEventListener('open', () => {
    retryMs = RETRY_FIRST_MS;
    setStatus('connected', 'connected');
  });
  ws.addEventListener('message', (event) => {
    lastMessageAt = Date.now();
    let snapshot;
    try {
      snapshot = JSON.parse(event.data);
    } catch {
      return;
    }
    if (keep(snapshot)) render();
    tick();
  });
  ws.addEventListener('close', () => {
    const seconds = (retryMs / 1000).toFixed(1);
    setStatus('disconnected', `disconnected — reconnecting in ${seconds} s`);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  });
}

setInterval(tick, 1000);
connect();
