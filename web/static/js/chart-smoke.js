// The ping latency distribution ("smoke") chart: per period the spread of every ping reply's
// round-trip time as nested bands (min–max light, 25th–75th percentile darker), the median as
// a line, and packet loss as red marks on a second (%) axis.
//
// Data: GET /api/v1/monitoring/device/{pk}/ping-latency/ →
// {x: [epoch s], min, p25, p50, p75, max: [ms|null], loss: [%|null], samples}.

import { h, replace } from './dom.js';
import { round, isolatedPoints } from './charts.js';

const AXIS = '#59636e';
const GRID = 'rgba(0,0,0,0.08)';
const BLUE = '#1f77b4';
const LOSS = '#cf222e';

const TITLE = 'Ping latency distribution';
const DESCRIPTION = 'Round-trip time of every ping reply in each period: the light band spans the fastest to the slowest reply, the darker band the middle half (25th to 75th percentile) and the line is the median. Red marks show packet loss (right axis).';

function n(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function arr(d, k, len) {
  const a = Array.isArray(d && d[k]) ? d[k] : [];
  return Array.from({ length: len }, (_, i) => n(a[i]));
}

function model(d) {
  const x = (Array.isArray(d && d.x) ? d.x : []).map((t) => n(t));
  const len = x.length;
  const m = { x, min: arr(d, 'min', len), p25: arr(d, 'p25', len), p50: arr(d, 'p50', len), p75: arr(d, 'p75', len), max: arr(d, 'max', len), loss: arr(d, 'loss', len), samples: n(d && d.samples) };
  m.lossMarks = m.loss.map((v) => (v !== null && v > 0 ? v : null));
  m.empty = m.p50.every((v) => v === null) && m.loss.every((v) => v === null);
  return m;
}

const ms = (v) => (v === null || v === undefined ? 'N/A' : `${round(v)} ms`);
const pct = (v) => (v === null || v === undefined ? 'N/A' : `${round(v)}%`);

function median(values) {
  const a = values.filter((v) => v !== null).sort((p, q) => p - q);
  if (!a.length) return null;
  const mid = Math.floor(a.length / 2);
  return a.length % 2 ? a[mid] : (a[mid - 1] + a[mid]) / 2;
}

function summary(m) {
  const maxes = m.max.filter((v) => v !== null);
  const losses = m.loss.filter((v) => v !== null);
  const items = [
    ['Ping replies', m.samples === null ? 'N/A' : String(m.samples)],
    ['Typical median RTT', ms(median(m.p50))],
    ['Slowest reply', ms(maxes.length ? Math.max(...maxes) : null)],
    ['Average packet loss', pct(losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : null)],
  ];
  return h('dl', { class: 'chart-summary' }, items.map(([k, v]) => h('div', { class: 'chart-sum' }, h('dt', {}, k), h('dd', {}, v))));
}

function fmtTime(sec) {
  return sec === null || sec === undefined ? '—' : new Date(sec * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function axisSize(u, values) {
  if (!values || !values.length) return 40;
  return Math.max(36, Math.min(100, Math.max(...values.map((v) => String(v ?? '').length)) * 8 + 22));
}

/** A section for when the server has no latency endpoint (or another failure). */
export function latencyUnavailable(container, message = 'Latency distribution is not available from this server') {
  const el = h('section', { class: 'chart chart-smoke' },
    h('h3', { class: 'chart-title' }, TITLE),
    h('p', { class: 'chart-unavailable', role: 'note' }, message));
  if (container) container.append(el);
  return { el, update() {}, destroy() { el.remove(); }, unavailable: true };
}

/**
 * Draws the latency chart in a new `<section class="chart chart-smoke">` appended to
 * `container`; same handle and zoom options as `renderChart`.
 */
export function renderLatencyChart(container, data, opts = {}) {
  const ref = { m: model(data), u: null };
  const plot = h('div', { class: 'chart-plot', role: 'img', 'aria-label': `${TITLE} chart. Values are summarised below the chart.` });
  const empty = h('p', { class: 'chart-empty', hidden: true }, 'No data for this period');
  const after = h('div', { class: 'chart-after' });
  const legend = h('ul', { class: 'scale-legend smoke-legend', 'aria-label': 'Legend' },
    h('li', {}, h('span', { class: 'swatch smoke-outer', 'aria-hidden': 'true' }), 'min–max'),
    h('li', {}, h('span', { class: 'swatch smoke-inner', 'aria-hidden': 'true' }), '25th–75th percentile'),
    h('li', {}, h('span', { class: 'swatch smoke-median', 'aria-hidden': 'true' }), 'median'),
    h('li', {}, h('span', { class: 'swatch smoke-loss', 'aria-hidden': 'true' }), 'packet loss'));
  const el = h('section', { class: 'chart chart-smoke' },
    h('h3', { class: 'chart-title' }, TITLE),
    h('p', { class: 'chart-desc' }, DESCRIPTION),
    h('div', { class: 'chart-frame' }, plot, empty), after);
  if (container) container.append(el);

  const paint = () => {
    empty.hidden = !ref.m.empty;
    replace(after, summary(ref.m), legend);
  };
  const data_ = () => [ref.m.x, ref.m.min, ref.m.p25, ref.m.p50, ref.m.p75, ref.m.max, ref.m.lossMarks];
  const width = () => Math.max(240, Math.floor(plot.clientWidth || 600));
  const height = (w) => (w < 520 ? 200 : 250);

  function create() {
    if (typeof uPlot === 'undefined') return;
    const w = width();
    const hidden = { stroke: 'transparent', width: 0, points: { show: false } };
    const opts_ = {
      width: w,
      height: height(w),
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
      select: { show: true },
      legend: { live: true },
      scales: {
        x: { time: true },
        y: { range: (u, lo, hi) => uPlot.rangeNum(0, hi === null || hi <= 0 ? 1 : hi, 0.1, true) },
        loss: { range: [0, 100] },
      },
      axes: [
        { stroke: AXIS, grid: { stroke: GRID }, space: 60 },
        { stroke: AXIS, grid: { stroke: GRID }, size: axisSize, values: (u, s) => s.map((v) => (v === null ? '' : `${Number(v.toPrecision(4))} ms`)) },
        { scale: 'loss', side: 1, stroke: LOSS, grid: { show: false }, size: 56, values: (u, s) => s.map((v) => (v === null ? '' : `${v}%`)) },
      ],
      series: [
        { label: 'Time', value: (u, v) => fmtTime(v) },
        { ...hidden, label: 'min', value: (u, v) => ms(v) },
        { ...hidden, label: 'p25', value: (u, v) => ms(v) },
        { label: 'median', stroke: BLUE, width: 2, value: (u, v) => ms(v), points: { show: false, size: 5, filter: isolatedPoints } },
        { ...hidden, label: 'p75', value: (u, v) => ms(v) },
        { ...hidden, label: 'max', value: (u, v) => ms(v) },
        {
          label: 'loss', scale: 'loss', stroke: LOSS, width: 0, paths: () => null,
          points: { show: true, size: 8, stroke: LOSS, fill: LOSS, width: 1 },
          value: (u, v, si, i) => pct(i === null || i === undefined ? v : ref.m.loss[i]),
        },
      ],
      bands: [
        { series: [5, 1], fill: 'rgba(31,119,180,0.14)' },
        { series: [4, 2], fill: 'rgba(31,119,180,0.32)' },
      ],
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 3 || !opts.onZoom) return;
          const a = u.posToVal(u.select.left, 'x');
          const b = u.posToVal(u.select.left + u.select.width, 'x');
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          opts.onZoom(a, b);
        }],
        ready: [(u) => { if (opts.onReset) u.over.addEventListener('dblclick', () => opts.onReset()); }],
      },
    };
    ref.u = new uPlot(opts_, data_(), plot);
  }

  paint();
  let lastW = 0;
  const ro = new ResizeObserver(() => {
    const w = width();
    if (!ref.u) { if (plot.isConnected) { create(); lastW = w; } return; }
    if (Math.abs(w - lastW) < 2) return;
    lastW = w;
    ref.u.setSize({ width: w, height: height(w) });
  });
  ro.observe(plot);

  return {
    el,
    get uplot() { return ref.u; },
    update(next) {
      ref.m = model(next);
      paint();
      if (ref.u) ref.u.setData(data_());
    },
    destroy() {
      ro.disconnect();
      if (ref.u) ref.u.destroy();
      ref.u = null;
      el.remove();
    },
  };
}
