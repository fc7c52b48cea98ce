// Charts of the monitoring API (spec §4.2 / §7.3) drawn with uPlot, and the timeframe picker.
//
// Reusable by every page that shows chart JSON (device page, dashboard):
//   renderChart(container, chartJson, {x, onZoom, onReset})  → {el, update(chartJson, x), destroy()}
//   timeframePicker({value, onChange})                        → {el, set(value), value(), setBack(fn)}
//   timeframeQuery(value)          → the API query (`time` or `start`/`end`, plus `timezone`)
//   loadTimeframe(key, fallback) / saveTimeframe(key, value)  (localStorage)
//   zoomRange(startSec, endSec)    → a custom timeframe for a dragged selection
//   downloadCsv(path, query)       → fetches `?csv=1` and saves it as data.csv
//
// Chart JSON values arrive as upstream sends them: traffic in GB, bandwidth in Gbps
// (`adaptive_prefix+B`, `adaptive_prefix+bps`), `x` as "YYYY-MM-DD HH:MM" in the zone asked
// for (we always ask for the browser's zone, so the labels are local wall-clock times).

import { h, replace } from './dom.js';
import { api } from './api.js';

/** Upstream's DEFAULT_COLORS. */
export const DEFAULT_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** The presets of the picker (sent as `time`). */
export const PRESETS = ['1d', '3d', '7d', '30d', '365d'];

const DAY = 86400;
const AXIS = '#59636e';
const GRID = 'rgba(0,0,0,0.08)';

// ---------------------------------------------------------------------------------------
// Numbers and units

function numOrNull(v) {
  if (v === null || v === undefined || v === '' || typeof v === 'boolean') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Two decimals, four below 0.01 (upstream's rounding), trailing zeros dropped. */
export function round(v) {
  const n = numOrNull(v);
  if (n === null) return '—';
  const a = Math.abs(n);
  return String(Number(n.toFixed(a !== 0 && a < 0.01 ? 4 : 2)));
}

function tick(v) {
  return String(Number(v.toPrecision(4)));
}

const PREFIXES = ['', 'K', 'M', 'G', 'T', 'P'];

function prefix(n) {
  let i = 0;
  let a = Math.abs(n);
  while (a >= 1000 && i < PREFIXES.length - 1) { a /= 1000; i += 1; }
  return [1000 ** i, PREFIXES[i]];
}

/**
 * How to show values of a chart `unit`: `fmt(v)` for one value (hover, summary), `axis(splits)`
 * for the tick labels of one axis (one prefix for the whole axis), `percent` for % charts.
 */
export function unitFormatter(unit) {
  const u = unit === null || unit === undefined ? '' : String(unit);
  const adaptive = /^adaptive_prefix\+(.*)$/.exec(u);
  if (adaptive) {
    // Values arrive in giga-units.
    const base = adaptive[1] === 'bps' ? 'bit/s' : adaptive[1];
    const scale = 1e9;
    return {
      percent: false,
      fmt(v) {
        const n = numOrNull(v);
        if (n === null) return 'N/A';
        const [d, p] = prefix(n * scale);
        return `${round((n * scale) / d)} ${p}${base}`;
      },
      axis(splits) {
        const max = Math.max(0, ...splits.filter((s) => s !== null).map((s) => Math.abs(s * scale)));
        const [d, p] = prefix(max);
        return splits.map((s) => (s === null ? '' : `${tick((s * scale) / d)} ${p}${base}`));
      },
    };
  }
  if (u === '%') {
    return {
      percent: true,
      fmt: (v) => (numOrNull(v) === null ? 'N/A' : `${round(v)}%`),
      axis: (splits) => splits.map((s) => (s === null ? '' : `${tick(s)}%`)),
    };
  }
  const suffix = u.trim();
  return {
    percent: false,
    fmt: (v) => (numOrNull(v) === null ? 'N/A' : `${round(v)}${suffix ? ` ${suffix}` : ''}`),
    axis: (splits) => splits.map((s) => (s === null ? '' : `${tick(s)}${suffix ? ` ${suffix}` : ''}`)),
  };
}

// ---------------------------------------------------------------------------------------
// Time

/** The browser's IANA zone ('' if unknown: the server then uses its default). */
export function browserZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch { return ''; }
}

/** "YYYY-MM-DD HH:MM[:SS]" (browser wall clock) or epoch seconds → epoch seconds. */
export function parseX(label) {
  if (typeof label === 'number') return label;
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?/.exec(String(label));
  if (!m) {
    const t = Date.parse(label);
    return Number.isNaN(t) ? null : t / 1000;
  }
  return new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)).getTime() / 1000;
}

const pad2 = (n) => String(n).padStart(2, '0');

/** A Date as the API's custom-range format, browser wall clock: "YYYY-MM-DD HH:MM:SS". */
export function apiTime(d) {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function localInput(d) {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

function apiToDate(s) {
  const t = parseX(s);
  return t === null ? null : new Date(t * 1000);
}

function fmtTime(sec) {
  if (sec === null || sec === undefined) return '—';
  return new Date(sec * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

// ---------------------------------------------------------------------------------------
// Timeframes

/** Whether `v` is a timeframe value: `{time: 'Nd'}` or `{start, end}`. */
export function isTimeframe(v) {
  if (!v || typeof v !== 'object') return false;
  if (typeof v.time === 'string') return /^\d{1,3}d$/.test(v.time);
  const re = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
  return typeof v.start === 'string' && typeof v.end === 'string' && re.test(v.start) && re.test(v.end);
}

/** The API query for a timeframe, with the browser's zone. */
export function timeframeQuery(v) {
  const tz = browserZone();
  const q = v && v.start ? { start: v.start, end: v.end } : { time: (v && v.time) || '7d' };
  if (tz) q.timezone = tz;
  return q;
}

/** The remembered timeframe, or `fallback`. */
export function loadTimeframe(key = 'wispmon-chart-timeframe', fallback = { time: '7d' }) {
  try {
    const v = JSON.parse(localStorage.getItem(key) || 'null');
    return isTimeframe(v) ? v : fallback;
  } catch {
    return fallback;
  }
}

/** Remembers a timeframe. */
export function saveTimeframe(key = 'wispmon-chart-timeframe', v) {
  try { localStorage.setItem(key, JSON.stringify(v)); } catch { /* private mode: not remembered */ }
}

/** A custom timeframe for a selection from `a` to `b` (epoch seconds), end capped at now. */
export function zoomRange(a, b) {
  const now = Date.now() / 1000;
  let start = Math.min(a, b);
  let end = Math.min(Math.max(a, b), now);
  if (end - start < 60) start = end - 60;
  if (end - start > 365 * DAY) start = end - 365 * DAY;
  return { start: apiTime(new Date(start * 1000)), end: apiTime(new Date(end * 1000)) };
}

/** A short human description of a timeframe. */
export function describeTimeframe(v) {
  if (!v) return '';
  if (v.time) {
    const n = parseInt(v.time, 10);
    return `last ${n} day${n === 1 ? '' : 's'}`;
  }
  return `${fmtTime(parseX(v.start))} – ${fmtTime(parseX(v.end))}`;
}

let pickerSeq = 0;

/**
 * The timeframe picker: preset buttons (`aria-pressed` on the active one) and a custom range
 * (two datetime-local inputs and "Apply"). `onChange(value)` gets `{time}` or `{start, end}`;
 * the caller remembers it. `setBack(fn)` shows a "Previous range" button (undoing a zoom).
 */
export function timeframePicker({ value = { time: '7d' }, onChange = () => {}, presets = PRESETS, label = 'Time range' } = {}) {
  pickerSeq += 1;
  const id = `tf-${pickerSeq}`;
  let current = value;
  let back = null;
  const buttons = presets.map((p) => h('button', {
    type: 'button', class: 'tf-preset', 'aria-pressed': 'false', title: `Last ${parseInt(p, 10)} day${parseInt(p, 10) === 1 ? '' : 's'}`,
    onclick: () => { set({ time: p }); onChange({ time: p }); },
  }, p));
  const from = h('input', { type: 'datetime-local', id: `${id}-from`, required: true });
  const to = h('input', { type: 'datetime-local', id: `${id}-to`, required: true });
  const err = h('p', { class: 'error tf-error', role: 'alert' });
  const shown = h('span', { class: 'tf-shown', 'aria-live': 'polite' });
  const backBtn = h('button', { type: 'button', class: 'tf-back', hidden: true, onclick: () => { if (back) back(); } }, 'Previous range');
  const custom = h('details', { class: 'tf-custom' },
    h('summary', {}, 'Custom range'),
    h('form', { class: 'tf-form', onsubmit: (e) => {
      e.preventDefault();
      err.textContent = '';
      const a = from.value ? new Date(from.value) : null;
      const b = to.value ? new Date(to.value) : null;
      if (!a || !b || Number.isNaN(a.getTime()) || Number.isNaN(b.getTime())) { err.textContent = 'Enter both a start and an end.'; return; }
      if (a >= b) { err.textContent = 'The start must be before the end.'; return; }
      if (b.getTime() > Date.now() + 60000) { err.textContent = 'The end cannot be in the future.'; return; }
      if (b - a > 365 * DAY * 1000) { err.textContent = 'The range cannot be longer than 365 days.'; return; }
      const v = { start: apiTime(a), end: apiTime(b) };
      set(v);
      custom.open = false;
      onChange(v);
    } },
    h('div', { class: 'tf-field' }, h('label', { for: from.id }, 'From'), from),
    h('div', { class: 'tf-field' }, h('label', { for: to.id }, 'To'), to),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'),
    err));
  const el = h('div', { class: 'tf-picker' },
    h('div', { class: 'tf-presets', role: 'group', 'aria-label': label }, buttons),
    custom, backBtn, shown);

  function set(v) {
    current = v;
    for (const b of buttons) b.setAttribute('aria-pressed', String(Boolean(v.time) && b.textContent === v.time));
    custom.classList.toggle('active', Boolean(v.start));
    const now = new Date();
    const a = v.start ? apiToDate(v.start) : new Date(now.getTime() - DAY * 1000);
    const b = v.end ? apiToDate(v.end) : now;
    if (a) from.value = localInput(a);
    if (b) to.value = localInput(b);
    to.max = localInput(new Date(now.getTime() + 60000));
    shown.textContent = v.start ? `Showing ${describeTimeframe(v)}` : '';
  }
  set(current);
  return {
    el,
    set,
    value: () => current,
    setBack(fn) { back = fn; backBtn.hidden = !fn; },
  };
}

/** Fetches `path` with `query` plus `csv=1` and saves the answer as `filename`. */
export async function downloadCsv(path, query = {}, filename = 'data.csv') {
  const r = await api(path, { query: { ...query, csv: '1' }, raw: true });
  const blob = await r.blob();
  const url = URL.createObjectURL(new Blob([blob], { type: 'text/csv' }));
  const a = h('a', { href: url, download: filename, class: 'visually-hidden' }, filename);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}

// ---------------------------------------------------------------------------------------
// Chart model: chart JSON → ordered series with colours, kinds, labels and summaries

function traceLabel(chart, name) {
  const labels = chart.trace_labels;
  if (labels && typeof labels === 'object' && typeof labels[name] === 'string') return labels[name];
  return String(name).replace(/_/g, ' ');
}

function traceKind(chart, name) {
  if (chart.colorscale) return 'scale';
  const tt = chart.trace_type && chart.trace_type[name];
  const t = String(tt || chart.type || 'scatter');
  if (t === 'stackedbar' || t === 'stackedbar+lines') return 'stack';
  if (t === 'lines' || t === 'scatter' || t === 'line') return 'line';
  if (t === 'bar' || t === 'histogram') return 'bar';
  return 'line';
}

/** The colour of a colour-scale value: first map entry whose threshold ≤ v; null = catch-all. */
export function scaleColor(colorscale, v) {
  if (v === null || v === undefined || !colorscale) return null;
  const map = Array.isArray(colorscale.map) ? colorscale.map : [];
  for (const entry of map) {
    if (!Array.isArray(entry)) continue;
    const [t, color, label] = entry;
    if (t === null || t === undefined || t <= v) return { color: String(color), label: label === undefined ? '' : String(label) };
  }
  // No map: interpolate-free fallback on the scale stops.
  const scale = Array.isArray(colorscale.scale) ? colorscale.scale : [];
  const min = numOrNull(colorscale.min) ?? 0;
  const max = numOrNull(colorscale.max) ?? 100;
  const f = max === min ? 1 : (v - min) / (max - min);
  let best = null;
  for (const [stop, color] of scale) if (stop <= f) best = String(color);
  return best ? { color: best, label: '' } : null;
}

function buildModel(chart, sharedX) {
  const histogram = chart.type === 'histogram';
  const labels = Array.isArray(chart.x) ? chart.x : Array.isArray(sharedX) ? sharedX : [];
  const len = labels.length;
  const xs = histogram ? labels.map((_, i) => i) : labels.map(parseX);
  const traces = new Map();
  for (const t of Array.isArray(chart.traces) ? chart.traces : []) {
    if (!Array.isArray(t) || t.length < 2) continue;
    const vals = Array.isArray(t[1]) ? t[1] : [];
    traces.set(String(t[0]), Array.from({ length: len }, (_, i) => numOrNull(vals[i])));
  }
  const calcTotal = Boolean(chart.calculate_total);
  let order = [];
  if (Array.isArray(chart.trace_order) && chart.trace_order.length) {
    for (const n of chart.trace_order) if (traces.has(n) || (n === 'total' && calcTotal)) order.push(String(n));
    for (const n of traces.keys()) if (!order.includes(n)) order.push(n);
  } else {
    order = [...traces.keys()];
    if (calcTotal) order.unshift('total');
  }
  const summary = chart.summary && typeof chart.summary === 'object' ? chart.summary : {};
  if (calcTotal && !traces.has('total')) {
    const parts = [...traces.values()];
    traces.set('total', Array.from({ length: len }, (_, i) => {
      let s = null;
      for (const p of parts) if (p[i] !== null) s = (s ?? 0) + p[i];
      return s === null ? null : Number(s.toFixed(6));
    }));
  }
  const summaryOf = (name) => {
    if (name in summary) return numOrNull(summary[name]);
    if (name === 'total' && calcTotal) {
      let s = null;
      for (const [k, v] of Object.entries(summary)) if (k !== 'total' && numOrNull(v) !== null) s = (s ?? 0) + numOrNull(v);
      return s;
    }
    return null;
  };
  const colors = Array.isArray(chart.colors) ? chart.colors : [];
  const sumLabels = Array.isArray(chart.summary_labels) ? chart.summary_labels : [];
  const ordered = order.map((name, i) => ({
    name,
    label: traceLabel(chart, name),
    color: typeof colors[i] === 'string' ? colors[i] : DEFAULT_COLORS[i % DEFAULT_COLORS.length],
    kind: traceKind(chart, name),
    values: traces.get(name) || new Array(len).fill(null),
    summaryLabel: typeof sumLabels[i] === 'string' ? sumLabels[i] : null,
    summary: summaryOf(name),
    order: i,
  }));
  // Lines are drawn (and listed) after bars so a total line stays visible above its stack.
  const series = [...ordered.filter((x) => traceKind(chart, x.name) !== 'line'), ...ordered.filter((x) => traceKind(chart, x.name) === 'line')];
  // Stacks: each stacked series drawn from the running sum of the ones before it.
  const running = new Array(len).fill(0);
  for (const s of series) {
    if (s.kind !== 'stack') continue;
    s.bottom = running.slice();
    s.top = s.values.map((v, i) => (v === null ? null : running[i] + v));
    s.values.forEach((v, i) => { if (v !== null) running[i] += v; });
  }
  if (chart.colorscale) {
    const fixed = numOrNull(chart.colorscale.fixed_value) ?? 100;
    for (const s of series) {
      s.bottom = new Array(len).fill(0);
      s.top = s.values.map((v) => (v === null ? null : fixed));
      s.fills = s.values.map((v) => { const c = scaleColor(chart.colorscale, v); return c ? c.color : null; });
    }
  }
  const empty = series.every((s) => s.values.every((v) => v === null));
  const signature = JSON.stringify([chart.type, histogram, Boolean(chart.colorscale), series.map((s) => [s.name, s.kind, s.color])]);
  return { chart, histogram, labels, xs, series, empty, signature, unit: unitFormatter(chart.unit) };
}

// ---------------------------------------------------------------------------------------
// Rendering

function alpha(color, a) {
  const m = /^#([0-9a-f]{6})$/i.exec(color || '');
  if (!m) return color;
  const n = parseInt(m[1], 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

/** Indices of values with no neighbour to draw a line to (they would not show otherwise). */
export function isolatedPoints(u, sidx, show) {
  if (show) return null;
  const d = u.data[sidx];
  const out = [];
  for (let i = 0; i < d.length; i++) {
    if (d[i] === null || d[i] === undefined) continue;
    const prev = i > 0 ? d[i - 1] : null;
    const next = i < d.length - 1 ? d[i + 1] : null;
    if ((prev === null || prev === undefined) && (next === null || next === undefined)) out.push(i);
  }
  return out.length ? out : null;
}

function axisSize(u, values) {
  if (!values || !values.length) return 40;
  const longest = Math.max(...values.map((v) => String(v ?? '').length));
  return Math.max(36, Math.min(110, longest * 8 + 22));
}

function plotHeight(width) {
  return width < 520 ? 190 : 230;
}

function uplotOptions(ref, width, { onZoom, onReset }) {
  const m = ref.model;
  const { chart, unit } = m;
  const bars = (extra) => uPlot.paths.bars({ size: [0.82, 48], ...extra });
  const noFill = chart.fill === 'none';
  const series = m.series.map((s, idx) => {
    const value = (u, v, sidx, i) => {
      if (chart.colorscale) {
        const c = scaleColor(chart.colorscale, v);
        if (v === null || v === undefined) return 'N/A';
        const plain = !String(chart.unit || '').trim();
        return c && c.label ? (plain ? c.label : `${unit.fmt(v)} (${c.label})`) : unit.fmt(v);
      }
      return unit.fmt(v);
    };
    const base = { label: s.label, stroke: s.color, value };
    if (s.kind === 'line') {
      const few = m.xs.length <= 30;
      return {
        ...base,
        width: s.name === 'total' && chart.calculate_total ? 2.5 : 2,
        fill: noFill || (chart.calculate_total && s.name === 'total') ? undefined : alpha(s.color, 0.12),
        spanGaps: Boolean(chart.connect_points),
        points: { show: few, size: 5, filter: chart.connect_points ? null : isolatedPoints },
      };
    }
    const disp = {};
    if (s.kind === 'stack' || s.kind === 'scale') {
      disp.y0 = { unit: 1, values: () => ref.model.series[idx].bottom };
      disp.y1 = { unit: 1, values: () => ref.model.series[idx].top };
    }
    if (s.kind === 'scale') {
      disp.fill = { unit: 3, values: () => ref.model.series[idx].fills };
    }
    return { ...base, width: 0, fill: alpha(s.color, s.kind === 'bar' && m.series.length > 1 ? 0.7 : 0.9), paths: bars({ disp }), points: { show: false } };
  });
  const yRange = (u, dmin, dmax) => {
    const mm = ref.model;
    if (mm.chart.colorscale) return [0, numOrNull(mm.chart.colorscale.fixed_value) ?? 100];
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of mm.series) {
      for (const v of s.top || s.values) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      if (s.bottom) for (const v of s.bottom) if (v !== null) lo = Math.min(lo, v);
    }
    if (lo === Infinity) { lo = 0; hi = mm.unit.percent ? 100 : 1; }
    const zeroline = !(mm.chart.yaxis && mm.chart.yaxis.zeroline === false);
    if (zeroline || mm.series.some((s) => s.kind !== 'line')) { lo = Math.min(lo, 0); hi = Math.max(hi, 0); }
    if (mm.unit.percent) { lo = Math.min(lo, 0); hi = Math.max(hi, 100); }
    if (hi === lo) { hi += 1; lo -= zeroline ? 0 : 1; }
    const pad = (hi - lo) * 0.05;
    return uPlot.rangeNum(lo, hi + (mm.unit.percent && hi <= 100 ? 0 : pad), 0.05, true);
  };
  const xAxis = m.histogram
    ? { stroke: AXIS, grid: { stroke: GRID }, values: (u, splits) => splits.map((i) => (Number.isInteger(i) ? String(ref.model.labels[i] ?? '') : '')) }
    : { stroke: AXIS, grid: { stroke: GRID }, space: 60 };
  return {
    width,
    height: plotHeight(width),
    cursor: { drag: { x: !m.histogram, y: false, setScale: false }, points: { size: 7 } },
    select: { show: true },
    legend: { live: true },
    scales: { x: { time: !m.histogram }, y: { range: yRange } },
    axes: [
      xAxis,
      { stroke: AXIS, grid: { stroke: GRID }, show: !chart.colorscale, size: axisSize, values: (u, splits) => ref.model.unit.axis(splits) },
    ],
    series: [{ label: m.histogram ? 'Field' : 'Time', value: (u, v) => (m.histogram ? String(ref.model.labels[v] ?? '') : fmtTime(v)) }, ...series],
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 3 || !onZoom) return;
        const a = u.posToVal(u.select.left, 'x');
        const b = u.posToVal(u.select.left + u.select.width, 'x');
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        onZoom(a, b);
      }],
      ready: [(u) => {
        if (onReset) u.over.addEventListener('dblclick', () => onReset());
      }],
    },
  };
}

function summaryList(m) {
  const items = m.series.filter((s) => s.summaryLabel).sort((a, b) => a.order - b.order);
  if (!items.length) return null;
  return h('dl', { class: 'chart-summary' }, items.map((s) => {
    let value = m.unit.fmt(s.summary);
    let swatch = s.color;
    if (m.chart.colorscale && s.summary !== null) {
      const c = scaleColor(m.chart.colorscale, s.summary);
      if (c) {
        swatch = c.color;
        const plain = !String(m.chart.unit || '').trim();
        if (c.label) value = plain ? c.label : `${value}: ${c.label}`;
      }
    }
    const dot = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    dot.style.background = swatch;
    return h('div', { class: 'chart-sum' }, h('dt', {}, dot, s.summaryLabel), h('dd', {}, value));
  }));
}

function scaleLegend(chart) {
  const map = chart.colorscale && Array.isArray(chart.colorscale.map) ? chart.colorscale.map : [];
  if (!map.length) return null;
  const unit = String(chart.unit || '').trim();
  return h('ul', { class: 'scale-legend', 'aria-label': `${chart.colorscale.label || 'Colour'} scale` }, map.map((entry, i) => {
    const [t, color, label] = entry;
    const next = i > 0 ? map[i - 1][0] : null;
    let range = '';
    if (unit === '%') range = t === null ? ` (< ${next}%)` : next === null ? ` (${t}%)` : ` (${t}–${next}%)`;
    const dot = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    dot.style.background = String(color);
    return h('li', {}, dot, `${label ?? ''}${range}`);
  }));
}

/**
 * Draws one chart of the charts JSON in a new `<section class="chart">` appended to
 * `container`. `opts.x` is the response's shared `x` (non-histogram charts); `opts.onZoom(a, b)`
 * gets the epoch seconds of a dragged selection and `opts.onReset()` a double-click.
 * `update(chart, x)` replaces the data in place (no blanking); `destroy()` removes it.
 */
export function renderChart(container, chart, opts = {}) {
  const ref = { model: buildModel(chart, opts.x), u: null };
  const headingTag = opts.heading || 'h3';
  const title = h(headingTag, { class: 'chart-title' });
  const desc = h('p', { class: 'chart-desc' });
  const plot = h('div', { class: 'chart-plot', role: 'img' });
  const empty = h('p', { class: 'chart-empty', hidden: true }, 'No data for this period');
  const after = h('div', { class: 'chart-after' });
  const el = h('section', { class: 'chart' }, title, desc, h('div', { class: 'chart-frame' }, plot, empty), after);
  if (container) container.append(el);

  function paintText() {
    const m = ref.model;
    const t = String(m.chart.title ?? '');
    title.textContent = t;
    desc.textContent = String(m.chart.description ?? '');
    desc.hidden = !m.chart.description;
    plot.setAttribute('aria-label', `${t} chart${m.empty ? ': no data for this period' : ''}. Values are listed below the chart.`);
    empty.hidden = !m.empty;
    replace(after, summaryList(m), m.chart.colorscale ? scaleLegend(m.chart) : null);
  }

  function data() {
    return [ref.model.xs, ...ref.model.series.map((s) => s.values)];
  }

  function width() {
    return Math.max(240, Math.floor(plot.clientWidth || (container && container.clientWidth) || 600));
  }

  function create() {
    if (typeof uPlot === 'undefined') {
      empty.hidden = false;
      empty.textContent = 'The chart library did not load.';
      return;
    }
    ref.u = new uPlot(uplotOptions(ref, width(), opts), data(), plot);
  }

  paintText();
  // uPlot needs the element's width: create once it is laid out.
  let lastW = 0;
  const ro = new ResizeObserver(() => {
    const w = width();
    if (!ref.u) { if (plot.isConnected) { create(); lastW = w; } return; }
    if (Math.abs(w - lastW) < 2) return;
    lastW = w;
    ref.u.setSize({ width: w, height: plotHeight(w) });
  });
  ro.observe(plot);

  return {
    el,
    get uplot() { return ref.u; },
    update(next, x) {
      const m = buildModel(next, x);
      const same = m.signature === ref.model.signature;
      ref.model = m;
      paintText();
      if (!ref.u) return;
      if (same) {
        ref.u.setData(data());
      } else {
        ref.u.destroy();
        ref.u = null;
        replace(plot);
        create();
      }
    },
    destroy() {
      ro.disconnect();
      if (ref.u) ref.u.destroy();
      ref.u = null;
      el.remove();
    },
  };
}
