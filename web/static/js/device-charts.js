// The device page's "Charts" tab: timeframe picker, "Export data", one uPlot per chart of
// GET /api/v1/monitoring/device/{pk}/ plus the ping latency distribution, zoom by drag, and
// an auto-refresh every 2 minutes for relative timeframes that updates the charts in place.

import { h, replace } from './dom.js';
import { api } from './api.js';
import {
  renderChart, timeframePicker, timeframeQuery, loadTimeframe, saveTimeframe, zoomRange,
  downloadCsv, describeTimeframe,
} from './charts.js';
import { renderLatencyChart, latencyUnavailable } from './chart-smoke.js';

const STORE = 'wispmon-chart-timeframe';
const REFRESH_MS = 120000;
const SMOKE_KEY = '\u0000smoke';

/** Mounts the tab in `el`; returns its cleanup. */
export function mountCharts(el, ctx, device) {
  const base = `/api/v1/monitoring/device/${encodeURIComponent(device.id)}/`;
  let tf = loadTimeframe(STORE, { time: '7d' });
  const history = [];
  const handles = new Map();
  let seq = 0;
  let controller = null;
  let timer = null;
  let disposed = false;

  const status = h('p', { class: 'charts-status', role: 'status', 'aria-live': 'polite' });
  const errors = h('div', { class: 'charts-errors' });
  const list = h('div', { class: 'charts' });
  const exportBtn = h('button', { type: 'button', class: 'export', onclick: exportCsv }, 'Export data');
  const picker = timeframePicker({
    value: tf,
    onChange: (v) => { history.length = 0; choose(v); },
  });
  replace(el,
    h('div', { class: 'charts-toolbar' }, picker.el, exportBtn),
    h('p', { class: 'hint' }, 'Drag across a chart to zoom into that period; double-click a chart or use “Previous range” to go back.'),
    status, errors, list);

  function choose(v, { remember = true } = {}) {
    tf = v;
    picker.set(v);
    picker.setBack(history.length ? back : null);
    if (remember) saveTimeframe(STORE, v);
    load();
  }

  function zoom(a, b) {
    if (!Number.isFinite(a) || !Number.isFinite(b)) return;
    history.push(tf);
    choose(zoomRange(a, b));
  }

  function back() {
    const prev = history.pop();
    if (prev) choose(prev);
  }

  const chartOpts = { onZoom: zoom, onReset: () => { if (history.length) back(); } };

  async function exportCsv() {
    exportBtn.disabled = true;
    try {
      await downloadCsv(base, timeframeQuery(tf), 'data.csv');
    } catch (x) {
      replace(errors, h('p', { class: 'error dev-note', role: 'alert' }, `The data could not be exported: ${x.message}`));
    } finally {
      exportBtn.disabled = false;
    }
  }

  async function fetchLatency(query, signal) {
    try {
      return { data: await api(`${base}ping-latency/`, { query, signal }) };
    } catch (x) {
      if (x.name === 'AbortError') throw x;
      return { error: x };
    }
  }

  async function load({ quiet = false } = {}) {
    const my = ++seq;
    if (controller) controller.abort();
    controller = new AbortController();
    const { signal } = controller;
    const query = timeframeQuery(tf);
    if (!quiet) status.textContent = `Loading charts for ${describeTimeframe(tf)}…`;
    list.setAttribute('aria-busy', 'true');
    let body;
    let latency;
    try {
      [body, latency] = await Promise.all([api(base, { query, signal }), fetchLatency(query, signal)]);
    } catch (x) {
      if (x.name === 'AbortError' || my !== seq || disposed) return;
      list.removeAttribute('aria-busy');
      status.textContent = '';
      replace(errors, h('p', { class: 'error dev-note', role: 'alert' }, `Something went wrong while loading the charts: ${x.message}`));
      return;
    }
    if (my !== seq || disposed) return;
    list.removeAttribute('aria-busy');
    replace(errors);
    draw(body, latency);
    const when = new Date().toLocaleTimeString(undefined, { timeStyle: 'short' });
    status.textContent = `${tf.time ? `Showing the ${describeTimeframe(tf)} · ` : ''}Updated ${when}${tf.time ? ' · refreshes every 2 minutes' : ''}`;
  }

  function draw(body, latency) {
    const charts = Array.isArray(body && body.charts) ? body.charts : [];
    const x = body && body.x;
    const seen = new Map();
    const wanted = [];
    for (const c of charts) {
      if (!c || typeof c !== 'object') continue;
      const t = String(c.title ?? '');
      const n = (seen.get(t) || 0) + 1;
      seen.set(t, n);
      const key = `${t}#${n}`;
      let hd = handles.get(key);
      if (hd) hd.update(c, x);
      else { hd = renderChart(null, c, { ...chartOpts, x }); handles.set(key, hd); }
      wanted.push([key, hd, c]);
    }
    // The latency distribution goes right after the round-trip time chart (else first).
    let smoke = handles.get(SMOKE_KEY);
    const notFound = latency.error && latency.error.status === 404;
    if (latency.data) {
      if (smoke && smoke.unavailable) { smoke.destroy(); smoke = null; }
      if (smoke) smoke.update(latency.data);
      else smoke = renderLatencyChart(null, latency.data, chartOpts);
    } else {
      if (smoke) smoke.destroy();
      smoke = latencyUnavailable(null, notFound
        ? 'Latency distribution is not available from this server'
        : `The latency distribution could not be loaded: ${latency.error.message}`);
    }
    handles.set(SMOKE_KEY, smoke);
    const rtt = wanted.findIndex(([, , c]) => /round trip time/i.test(String(c.title)));
    wanted.splice(rtt >= 0 ? rtt + 1 : 0, 0, [SMOKE_KEY, smoke, null]);
    const keep = new Set(wanted.map(([k]) => k));
    for (const [k, hd] of handles) if (!keep.has(k)) { hd.destroy(); handles.delete(k); }
    // Appending moves existing sections into order without re-creating their canvases.
    list.querySelector(':scope > .charts-none')?.remove();
    const inOrder = wanted.length === list.children.length && wanted.every(([, hd], i) => list.children[i] === hd.el);
    if (!inOrder) for (const [, hd] of wanted) list.append(hd.el);
    if (!charts.length) list.prepend(h('p', { class: 'charts-none dev-note' }, 'No data for this period'));
  }

  function tickRefresh() {
    if (disposed || !tf.time || document.hidden) return;
    load({ quiet: true });
  }

  timer = setInterval(tickRefresh, REFRESH_MS);
  picker.setBack(null);
  load();

  return () => {
    disposed = true;
    clearInterval(timer);
    if (controller) controller.abort();
    for (const hd of handles.values()) hd.destroy();
    handles.clear();
  };
}
