// The System page (superusers): wispmon's own numbers over time — requests and points per
// second, write errors, memory, disk and series — from the self-monitoring database
// (`[telemetry] database`). Says how to turn it on when it is off. Refreshed as the
// dashboard's charts are.

import { api } from './api.js';
import { h, replace } from './dom.js';
import { chartLoader } from './plot.js';
import { browserZone } from './charts.js';
import { uid, timeRangePicker } from './ui.js';

const SYSTEM = '/api/v1/monitoring/system/';
const TIMES = [['1d', 'Last 1 day'], ['3d', 'Last 3 days'], ['7d', 'Last 7 days'], ['30d', 'Last 30 days']];
const REFRESH_MS = 60_000;

export async function render(el, ctx) {
  if (!ctx.session.is_superuser) {
    replace(el, h('h1', {}, 'System'), h('p', {}, 'Only superusers see wispmon\'s own numbers.'));
    return () => {};
  }
  let time = '1d';
  const chartsEl = h('div', { id: 'system-charts', class: 'charts', 'aria-live': 'polite', 'aria-busy': 'true' });
  const note = h('p', { class: 'muted', role: 'status' });
  const charts = chartLoader(chartsEl, async (signal) => {
    const data = await api(SYSTEM, { query: { time, timezone: browserZone() }, signal });
    if (!data.enabled) {
      note.textContent = 'Self-monitoring is off: set [telemetry] database (for example "wispmon") in the configuration and restart wispmon.';
      return null;
    }
    note.textContent = data.charts.length ? `Database "${data.database}".`
      : `Database "${data.database}": no numbers written in this time range yet.`;
    return data;
  });
  const picker = timeRangePicker(TIMES, time, (v) => { time = v; charts.load(); });
  const title = uid('h');
  replace(el,
    h('h1', {}, 'System'),
    h('section', { class: 'card charts-card', 'aria-labelledby': title },
      h('div', { class: 'card-head' }, h('h2', { id: title }, 'wispmon itself'),
        h('p', { class: 'muted small' }, 'The numbers of /metrics, written to the self-monitoring database.')),
      h('div', { class: 'controls' }, picker),
      note,
      chartsEl));

  await charts.load();
  const timer = setInterval(() => { if (!document.hidden) charts.load({ quiet: true }); }, REFRESH_MS);
  return () => {
    clearInterval(timer);
    charts.stop();
  };
}
