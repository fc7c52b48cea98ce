// Draws the chart JSON of the monitoring API (spec §4.2, §7.3) with uPlot: bars, lines,
// stacked bars with a computed total, percentages on a 0–100 axis and adaptive byte units.
// Used by the dashboard's general charts and the System page. `uPlot` is the global the vendor
// script defines.

import { h, replace } from './dom.js';
import { isAbort } from './api.js';
import { errorBox } from './ui.js';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

/** "2024-05-14 09:00" (in the zone the request named, the browser's) → seconds. */
function labelTime(s) {
  const d = new Date(String(s).replace(' ', 'T'));
  return Number.isNaN(d.getTime()) ? null : d.getTime() / 1000;
}

/**
 * The scale of an adaptive unit from the mean of the non-zero points (values arrive in giga
 * units): [factor, prefix]. As upstream's chart widget does.
 */
function adaptive(values) {
  const nz = values.filter((v) => typeof v === 'number' && v !== 0);
  if (!nz.length) return [1, 'G'];
  const mean = nz.reduce((a, b) => a + b, 0) / nz.length;
  if (mean < 0.001) return [1e6, 'K'];
  if (mean < 1) return [1000, 'M'];
  if (mean < 1000) return [1, 'G'];
  return [0.001, 'T'];
}

/** How to show numbers of a chart: {scale, suffix, pct}. */
function unitOf(chart, allValues) {
  const unit = chart.unit || '';
  if (unit.startsWith('adaptive_prefix+')) {
    const [factor, prefix] = adaptive(allValues);
    return { scale: factor, suffix: ` ${prefix}${unit.slice('adaptive_prefix+'.length)}`, pct: false };
  }
  return { scale: 1, suffix: unit === '%' ? '%' : unit, pct: unit === '%' };
}

function fmt(v, u) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'N/A';
  const x = v * u.scale;
  const r = Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 100) / 100;
  return `${r.toLocaleString()}${u.suffix}`;
}

/** A single value in its own adaptive scale (summaries and hover values, as upstream). */
function fmtOwn(v, chart, u) {
  if (!(chart.unit || '').startsWith('adaptive_prefix+') || typeof v !== 'number') return fmt(v, u);
  return fmt(v, unitOf(chart, [v]));
}

function label(chart, name) {
  return (chart.trace_labels && chart.trace_labels[name]) || String(name).replace(/_/g, ' ');
}

/**
 * One chart: a figure with its title, an optional description, the plot and the summary.
 * Returns {el, destroy}. `x` is the shared list of bucket labels.
 */
export function renderChart(chart, x) {
  const names = chart.trace_order && chart.trace_order.length
    ? chart.trace_order.slice()
    : chart.traces.map(([n]) => n);
  const raw = new Map(chart.traces.map(([n, v]) => [n, v]));
  if (chart.calculate_total && !raw.has('total')) {
    const len = (x || []).length;
    const total = Array.from({ length: len }, (_, i) => {
      let s = null;
      for (const [, v] of chart.traces) if (typeof v[i] === 'number') s = (s || 0) + v[i];
      return s;
    });
    raw.set('total', total);
  }
  const shown = names.filter((n) => raw.has(n));
  for (const [n] of chart.traces) if (!shown.includes(n)) shown.push(n);
  const colors = new Map(shown.map((n, i) => [n, (chart.colors && chart.colors[i]) || PALETTE[i % PALETTE.length]]));
  const u = unitOf(chart, chart.traces.flatMap(([, v]) => v));
  const kind = (n) => {
    const t = (chart.trace_type && chart.trace_type[n]) || chart.type;
    if (t === 'stackedbar') return 'stack';
    if (t === 'bar' || t === 'histogram') return 'bar';
    return 'line';
  };

  const xs = (x || []).map(labelTime);
  // Stacked bars: cumulative heights, drawn from the top of the stack down so each bar shows.
  const stacked = shown.filter((n) => kind(n) === 'stack');
  const cum = new Map();
  let acc = xs.map(() => null);
  for (const n of stacked) {
    const v = raw.get(n);
    acc = acc.map((a, i) => (typeof v[i] === 'number' ? (a || 0) + v[i] : a));
    cum.set(n, acc.slice());
  }
  const order = [...stacked.slice().reverse(), ...shown.filter((n) => kind(n) === 'bar'), ...shown.filter((n) => kind(n) === 'line')];

  const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.75, 40], align: 0 }) : undefined;
  const data = [xs];
  const series = [{ label: 'Time' }];
  const rawBySeries = [null];
  for (const n of order) {
    const k = kind(n);
    const values = k === 'stack' ? cum.get(n) : raw.get(n);
    data.push(values.map((v) => (typeof v === 'number' ? v * u.scale : null)));
    rawBySeries.push(raw.get(n));
    const color = colors.get(n);
    series.push({
      label: label(chart, n),
      stroke: color,
      width: k === 'line' ? 2 : 1,
      fill: k === 'line' ? (chart.fill && chart.fill !== 'none' ? `${color}33` : undefined) : `${color}cc`,
      paths: k === 'line' ? undefined : bars,
      points: { show: k === 'line' && xs.length <= 30 },
      // A computed total over sparse buckets reads better joined up.
      spanGaps: Boolean(chart.connect_points) || (k === 'line' && n === 'total' && Boolean(chart.calculate_total)),
      value: (_u, _v, si, idx) => (idx === null || idx === undefined ? '—' : fmtOwn(rawBySeries[si][idx], chart, u)),
    });
  }

  const descId = `desc-${Math.random().toString(36).slice(2)}`;
  const desc = h('p', { id: descId, class: 'chart-desc', hidden: true }, chart.description || '');
  const toggle = chart.description ? h('button', {
    type: 'button', class: 'icon-btn', 'aria-expanded': 'false', 'aria-controls': descId,
    'aria-label': `About ${chart.title}`,
    onclick: (e) => {
      desc.hidden = !desc.hidden;
      e.currentTarget.setAttribute('aria-expanded', String(!desc.hidden));
    },
  }, '?') : null;
  const plotEl = h('div', { class: 'plot' });
  const summary = summaryList(chart, raw, u);
  const el = h('figure', { class: 'chart card' },
    h('figcaption', {}, h('h3', {}, chart.title), toggle),
    desc, plotEl, summary);

  let plot = null;
  let ro = null;
  const height = 220;
  const make = () => {
    const width = Math.max(240, plotEl.clientWidth || 600);
    plot = new uPlot({
      width, height,
      series,
      scales: { x: { time: true }, y: u.pct ? { range: [0, 100] } : { range: (_self, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: '#1f2328', grid: { stroke: '#e5e7eb' }, ticks: { stroke: '#d1d9e0' } },
        { stroke: '#1f2328', grid: { stroke: '#e5e7eb' }, ticks: { stroke: '#d1d9e0' }, size: 64,
          values: (_self, ticks) => ticks.map((t) => `${Math.round(t * 100) / 100}${u.suffix}`) },
      ],
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
    }, data, plotEl);
    ro = new ResizeObserver(() => {
      const w = Math.max(240, plotEl.clientWidth);
      if (plot && Math.abs(plot.width - w) > 2) plot.setSize({ width: w, height });
    });
    ro.observe(plotEl);
  };
  return {
    el,
    /** Draws the plot; call once `el` is in the document (uPlot needs its width). */
    mount: make,
    destroy() {
      if (ro) ro.disconnect();
      if (plot) plot.destroy();
      plot = null;
    },
  };
}

function summaryList(chart, raw, u) {
  const labels = chart.summary_labels || [];
  const s = chart.summary || {};
  let keys = chart.trace_order && chart.trace_order.length ? chart.trace_order : Object.keys(s).sort();
  keys = keys.filter((k) => k in s || (k === 'total' && chart.calculate_total));
  if (!keys.length) return null;
  const value = (k) => {
    if (k === 'total' && !(k in s)) {
      const vals = Object.values(s).filter((v) => typeof v === 'number');
      return vals.length ? vals.reduce((a, b) => a + b, 0) : null;
    }
    return s[k];
  };
  return h('dl', { class: 'chart-summary' }, keys.map((k, i) => h('div', {},
    h('dt', {}, labels[i] || label(chart, k)),
    h('dd', {}, fmtOwn(value(k), chart, u)))));
}

/** Draws every chart of an API answer into `el`; returns a function removing them. */
export function renderCharts(el, answer, { empty = 'Insufficient data for selected time period.' } = {}) {
  const charts = (answer.charts || []).filter((c) => !c.x);
  if (!charts.length) {
    replace(el, h('p', { class: 'muted' }, empty));
    return () => {};
  }
  const made = charts.map((c) => renderChart(c, answer.x));
  replace(el, made.map((m) => m.el));
  for (const m of made) m.mount();
  return () => made.forEach((m) => m.destroy());
}

/**
 * Charts in `el` from `fetchData(signal)` (a chart answer, or null to draw nothing): `load({quiet})`
 * fetches again, aborting a fetch still running, dimming `el` unless `quiet` and putting an error
 * box in it when the fetch fails; `stop()` aborts and removes the charts.
 */
export function chartLoader(el, fetchData) {
  let ctl = null;
  let remove = () => {};
  let alive = true;
  const clear = () => { remove(); remove = () => {}; };
  async function load({ quiet = false } = {}) {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    el.setAttribute('aria-busy', 'true');
    if (!quiet) el.classList.add('loading-dim');
    try {
      const data = await fetchData(ctl.signal);
      if (!alive) return;
      clear();
      if (data) remove = renderCharts(el, data);
      else replace(el);
    } catch (x) {
      if (isAbort(x) || !alive) return;
      clear();
      replace(el, errorBox(x, 'Something went wrong while loading the charts'));
    } finally {
      el.setAttribute('aria-busy', 'false');
      el.classList.remove('loading-dim');
    }
  }
  function stop() {
    alive = false;
    if (ctl) ctl.abort();
    clear();
  }
  return { load, stop };
}
