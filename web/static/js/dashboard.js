// The dashboard (spec §7.1): the pie of device health statuses (each slice links to the device
// list filtered by that status), the map of locations with the status mix of their devices, and
// the network-wide charts (WiFi clients, traffic) with an organization filter and a time range.
// Live: status events move devices between slices at once and re-read the map, at most once
// every 2 s; nothing is polled except the charts' periodic refresh (as upstream, 2.5 minutes).

import { api, isAbort } from './api.js';
import { h, replace, throttle, STATUS_ORDER } from './dom.js';
import { statusPie, statusLegend, describeMix } from './statusviz.js';
import { createMap } from './netmap.js';
import { chartLoader } from './plot.js';
import { browserZone } from './charts.js';
import { uid, errorBox, timeRangePicker } from './ui.js';

const DEVICES = '/api/v1/monitoring/device/';
const DASHBOARD = '/api/v1/monitoring/dashboard/';
const TIMES = [['1d', 'Last 1 day'], ['3d', 'Last 3 days'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days'], ['365d', 'Last 365 days']];
const TIME_KEY = 'wispmon-chart-time';
const ORG_KEY = 'wispmon-dashboard-org';
const CHART_REFRESH_MS = 150_000;

const statusHref = (s) => `#/devices?status=${encodeURIComponent(s)}`;

function stored(key, fallback, allowed) {
  try {
    const v = localStorage.getItem(key);
    if (v && (!allowed || allowed.includes(v))) return v;
  } catch { /* storage disabled */ }
  return fallback;
}

function store(key, v) {
  try { if (v) localStorage.setItem(key, v); else localStorage.removeItem(key); } catch { /* storage disabled */ }
}

export async function render(el, ctx) {
  let alive = true;
  const cleanups = [];

  // ---- status pie ---------------------------------------------------------------------------
  const counts = {};
  let countsLoaded = false;
  const pieBox = h('div', { class: 'pie-box' }, h('p', { class: 'muted' }, 'Loading…'));
  const pieSummary = h('p', { class: 'sr-only', 'aria-live': 'polite' });
  const pieTitle = uid('h');
  const statusCard = h('section', { class: 'card status-card', 'aria-labelledby': pieTitle },
    h('h2', { id: pieTitle }, 'Monitoring status'), pieBox, pieSummary);

  function drawPie() {
    replace(pieBox, statusPie(counts, { href: statusHref }), statusLegend(counts, statusHref));
    pieSummary.textContent = `Devices: ${describeMix(counts)}.`;
  }

  async function loadCounts() {
    // One small page per status: the list's `count` is the number of devices in it.
    const answers = await Promise.all(STATUS_ORDER.map((s) => api(DEVICES, { query: { monitoring__status: s, page_size: 1 } })));
    STATUS_ORDER.forEach((s, i) => { counts[s] = answers[i].count; });
    countsLoaded = true;
  }

  // ---- map ----------------------------------------------------------------------------------
  // Leaflet takes over the inner element; `#map` stays ours (and holds error messages).
  const mapEl = h('div', { class: 'map', role: 'region', 'aria-label': 'Map of locations; each marker shows the health of the devices there' });
  const mapBox = h('div', { id: 'map', class: 'map-box' }, mapEl);
  const mapNote = h('p', { class: 'muted', role: 'status' });
  const mapTitle = uid('h');
  const mapCard = h('section', { class: 'card map-card', 'aria-labelledby': mapTitle },
    h('div', { class: 'card-head' }, h('h2', { id: mapTitle }, 'Map'),
      h('p', { class: 'muted small' }, 'Rings show the share of each status among the devices of a location.')),
    mapBox, mapNote);

  // ---- charts -------------------------------------------------------------------------------
  const orgs = (ctx.session.organizations || []).filter((o) => o.slug);
  let time = stored(TIME_KEY, '7d', TIMES.map(([v]) => v));
  let org = stored(ORG_KEY, '', orgs.map((o) => o.slug));
  const chartsEl = h('div', { id: 'dashboard-charts', class: 'charts', 'aria-live': 'polite', 'aria-busy': 'true' });
  const orgSelect = h('select', { id: uid('org'), onchange: () => { org = orgSelect.value; store(ORG_KEY, org); loadCharts(); } },
    h('option', { value: '' }, 'All organizations'),
    orgs.map((o) => h('option', { value: o.slug }, o.name)));
  orgSelect.value = org;
  const timePicker = timeRangePicker(TIMES, time, (v) => { time = v; store(TIME_KEY, v); loadCharts(); });
  const csv = h('a', { class: 'button', download: 'data.csv' }, 'Export CSV');
  const chartsTitle = uid('h');
  const chartsCard = h('section', { class: 'card charts-card', 'aria-labelledby': chartsTitle },
    h('div', { class: 'card-head' }, h('h2', { id: chartsTitle }, 'Network traffic and WiFi clients')),
    h('div', { class: 'controls' },
      orgs.length > 1 ? h('div', { class: 'field' }, h('label', { for: orgSelect.id }, 'Organization'), orgSelect) : null,
      timePicker, csv),
    chartsEl);

  const charts = chartLoader(chartsEl, (signal) => {
    const query = { time, timezone: browserZone(), organization_slug: org };
    const q = new URLSearchParams(Object.entries({ ...query, csv: '1' }).filter(([, v]) => v));
    csv.href = `${DASHBOARD}?${q}`;
    return api(DASHBOARD, { query, signal });
  });
  const loadCharts = charts.load;

  replace(el,
    h('h1', {}, 'Dashboard'),
    h('div', { class: 'dash-grid' }, statusCard, mapCard),
    chartsCard);

  // ---- start --------------------------------------------------------------------------------
  let netmap = null;
  try {
    netmap = createMap(mapEl, ctx);
    cleanups.push(() => netmap.destroy());
  } catch (x) {
    replace(mapBox, errorBox(x, 'The map could not be shown'));
  }

  const pieReady = loadCounts().then(() => { if (alive) drawPie(); })
    .catch((x) => { if (alive) replace(pieBox, errorBox(x, 'Could not load the status counts')); });
  const mapReady = netmap ? netmap.load().then((features) => {
    if (alive && !features.length) mapNote.textContent = 'No map data to show: no device has a location with coordinates yet.';
  }).catch((x) => { if (alive && !isAbort(x)) mapNote.textContent = `Could not load the locations: ${x.message}`; }) : null;
  loadCharts();

  // ---- live ---------------------------------------------------------------------------------
  const redrawPie = throttle(() => { if (alive) drawPie(); }, 2000);
  const refreshMap = throttle(() => {
    if (alive && netmap) netmap.refresh().catch((x) => { if (!isAbort(x)) mapNote.textContent = `Could not update the map: ${x.message}`; });
  }, 2000);
  const onStatus = (e) => {
    const { device, from, to } = e.detail || {};
    if (!alive) return;
    // Before the counts arrive, the answer already includes the change.
    if (countsLoaded) {
      if (from in counts && counts[from] > 0) counts[from] -= 1;
      if (to in counts) counts[to] += 1;
      redrawPie();
    }
    refreshMap();
    if (netmap && device) netmap.deviceStatus(device, to);
  };
  const onResync = async () => {
    try { await loadCounts(); if (alive) drawPie(); } catch { /* keep what is shown */ }
    refreshMap();
  };
  ctx.live.addEventListener('status', onStatus);
  ctx.live.addEventListener('resync', onResync);
  const timer = setInterval(() => { if (!document.hidden) loadCharts({ quiet: true }); }, CHART_REFRESH_MS);
  cleanups.push(() => {
    ctx.live.removeEventListener('status', onStatus);
    ctx.live.removeEventListener('resync', onResync);
    clearInterval(timer);
    redrawPie.cancel();
    refreshMap.cancel();
    charts.stop();
  });

  await Promise.allSettled([pieReady, mapReady]);
  return () => {
    alive = false;
    cleanups.forEach((c) => { try { c(); } catch { /* already gone */ } });
  };
}
