// The page's charts: one uPlot per <figure class="chart" data-chart=ID>, a
// line per source or receiver over the snapshots kept. Each figure also
// carries what it shows now as data attributes (data-points: how many
// snapshots; data-latest: {series label: newest value}), for tests and for
// anyone reading the page without its canvas.

/* global uPlot */

import { label, number } from './tables.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
const HEIGHT_PX = 200;
/** The time axis spans at least this much, s, so that the first snapshots do not fill it at sub-second ticks. */
const MIN_SPAN_S = 60;

/** The value of one series (by key) in one snapshot, per chart. */
function perReceiver(value, combine) {
  return (snapshot) => {
    const out = new Map();
    for (const r of snapshot.receivers) {
      const v = value(r);
      if (v === undefined || v === null) {
        if (!out.has(r.id)) out.set(r.id, { label: label(r.name, r.id), value: null });
        continue;
      }
      const held = out.get(r.id);
      out.set(r.id, { label: label(r.name, r.id), value: held === undefined || held.value === null ? v : combine(held.value, v) });
    }
    return out;
  };
}

const SERIES = {
  rate: (snapshot) => new Map(snapshot.sources.map((s) => [s.id, { label: label(s.name, s.id), value: s.messagesPerSec }])),
  loss: perReceiver((r) => r.lostPerSec, (a, b) => a + b),
  naks: perReceiver((r) => r.naksPerSec, (a, b) => a + b),
  'repair-latency': perReceiver((r) => r.repairLatencyMs, Math.max),
};

/** Series of one snapshot for every chart, computed once per snapshot. */
const points = new WeakMap();
function pointsOf(snapshot) {
  let p = points.get(snapshot);
  if (p === undefined) {
    p = Object.fromEntries(Object.entries(SERIES).map(([id, of]) => [id, of(snapshot)]));
    points.set(snapshot, p);
  }
  return p;
}

class Chart {
  constructor(figure, colorOf) {
    this.figure = figure;
    this.id = figure.dataset.chart;
    this.plotElement = figure.querySelector('.plot');
    this.colorOf = colorOf;
    this.signature = '';
    this.plot = undefined;
    // While the pointer is on the chart the legend follows it (uPlot's own); otherwise it shows the newest values.
    this.hovered = false;
    this.plotElement.addEventListener('mouseenter', () => (this.hovered = true));
    this.plotElement.addEventListener('mouseleave', () => {
      this.hovered = false;
      this.showNewest();
    });
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(this.plotElement);
  }

  showNewest() {
    const count = this.plot?.data[0].length ?? 0;
    if (!this.hovered && count > 0) this.plot.setLegend({ idx: count - 1 });
  }

  size() {
    return { width: Math.max(200, this.plotElement.clientWidth), height: HEIGHT_PX };
  }

  update(history) {
    const keys = [];
    const labels = new Map();
    for (const snapshot of history) {
      for (const [key, { label: l }] of pointsOf(snapshot)[this.id]) {
        if (!labels.has(key)) keys.push(key);
        labels.set(key, l);
      }
    }
    const data = [
      history.map((s) => s.time / 1000),
      ...keys.map((key) => history.map((s) => pointsOf(s)[this.id].get(key)?.value ?? null)),
    ];
    // A new series, one gone, or a new label (a source's member name heard after its first data): draw anew.
    const signature = keys.map((key) => `${key}\t${labels.get(key)}`).join('\n');
    if (this.plot === undefined || signature !== this.signature) {
      this.plot?.destroy();
      this.signature = signature;
      this.plot = new uPlot(this.options(keys.map((k) => ({ key: k, label: labels.get(k) }))), data, this.plotElement);
    } else {
      this.plot.setData(data);
    }
    const newest = data[0].length === 0 ? 0 : data[0][data[0].length - 1];
    this.plot.setScale('x', { min: Math.min(data[0][0] ?? newest, newest - MIN_SPAN_S), max: newest });
    this.showNewest();
    const latest = history.length === 0 ? new Map() : pointsOf(history[history.length - 1])[this.id];
    this.figure.dataset.points = String(history.length);
    this.figure.dataset.latest = JSON.stringify(Object.fromEntries([...latest.values()].map((p) => [p.label, p.value])));
  }

  options(series) {
    return {
      ...this.size(),
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      series: [
        {},
        ...series.map(({ key, label: l }) => ({ label: l, stroke: this.colorOf(key), width: 1.5, points: { show: false }, value: (u, v) => number(v, 1) })),
      ],
      axes: [{}, { size: 60, values: (u, values) => values.map((v) => number(v, v !== 0 && Math.abs(v) < 10 ? 2 : 0)) }],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
  }
}

export class Charts {
  constructor(figures) {
    const colors = new Map();
    // One color per source or receiver for the page's life, the same in every chart.
    const colorOf = (key) => {
      if (!colors.has(key)) colors.set(key, PALETTE[colors.size % PALETTE.length]);
      return colors.get(key);
    };
    this.charts = [...figures].map((figure) => new Chart(figure, colorOf));
  }

  /** Redraws every chart from `history` (snapshots, oldest first). */
  update(history) {
    for (const chart of this.charts) chart.update(history);
  }
}
