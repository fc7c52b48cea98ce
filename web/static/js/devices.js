// The device list (spec §7.4): one server page at a time (never the whole fleet), filtered by
// health status, organization, search text and problematic metric, with a "show issues" toggle;
// the filters and the page live in the address (`#/devices?status=problem&page=2`), so reload and
// back work. Rows of devices with problems list their unhealthy metrics. Live: a status event
// repaints the badge of the device's row.

import { api, isAbort } from './api.js';
import { h, replace, badge, ago, when, debounce, STATUS_ORDER, STATUS, num } from './dom.js';
import { uid, pager, pool, errorBox } from './ui.js';

const DEVICES = '/api/v1/monitoring/device/';
const PAGE_SIZES = [10, 25, 50, 100];
const DEFAULT_SIZE = 25;
/** "Issues": devices that need attention, worst first. */
const ISSUES = ['critical', 'problem'];
/** Metrics that can alert (the registry's metrics with alert settings), for the metric filter. */
const ALERT_METRICS = [
  ['ping', 'Ping'],
  ['data_collected', 'Monitoring Data Collected'],
  ['config_applied', 'Configuration Applied'],
  ['cpu', 'CPU usage'],
  ['memory', 'Memory usage'],
  ['disk', 'Disk usage'],
  ['wifi_clients_max', 'WiFi Clients (Maximum)'],
  ['wifi_clients_min', 'WiFi Clients (Minimum)'],
];

/** The list's state as the address holds it. */
function readQuery(q) {
  const size = Number(q.get('page_size'));
  const page = Number(q.get('page'));
  const status = q.get('status') || '';
  return {
    status: STATUS[status] ? status : '',
    organization: q.get('organization') || '',
    search: q.get('search') || '',
    metric: q.get('metric') || '',
    issues: q.get('issues') === '1',
    page: Number.isInteger(page) && page > 0 ? page : 1,
    pageSize: PAGE_SIZES.includes(size) ? size : DEFAULT_SIZE,
  };
}

function writeQuery(s) {
  const q = new URLSearchParams();
  if (s.issues) q.set('issues', '1');
  else if (s.status) q.set('status', s.status);
  if (s.organization) q.set('organization', s.organization);
  if (s.metric) q.set('metric', s.metric);
  if (s.search) q.set('search', s.search);
  if (s.page > 1) q.set('page', String(s.page));
  if (s.pageSize !== DEFAULT_SIZE) q.set('page_size', String(s.pageSize));
  const qs = q.toString();
  return qs ? `/devices?${qs}` : '/devices';
}

/** Server-side filters of one listing. */
function filters(s) {
  return {
    organization: s.organization,
    search: s.search,
    problematic_metric: s.metric,
    // "Show issues" asks for both statuses at once.
    monitoring__status: s.issues ? ISSUES.join(',') : s.status,
  };
}

/** One page of the list: one request, whatever the filters. */
async function fetchPage(s, signal) {
  const r = await api(DEVICES, { query: { ...filters(s), page: s.page, page_size: s.pageSize }, signal });
  return { rows: r.results, count: r.count };
}

export function render(el, ctx, query) {
  let state = readQuery(query);
  let ctl = null;
  let alive = true;
  const rowsById = new Map(); // device id → {tr, badgeCell, issuesCell, device}
  const orgs = ctx.session.organizations || [];

  // ---- filters ------------------------------------------------------------------------------
  const search = h('input', { type: 'search', id: uid('search'), placeholder: 'Name, MAC or IP address', autocomplete: 'off', value: state.search });
  const status = h('select', { id: uid('status') },
    h('option', { value: '' }, 'Any status'),
    STATUS_ORDER.map((k) => h('option', { value: k }, STATUS[k].label)));
  const org = h('select', { id: uid('org') },
    h('option', { value: '' }, 'All organizations'),
    orgs.map((o) => h('option', { value: o.id }, o.name)));
  const metric = h('select', { id: uid('metric') },
    h('option', { value: '' }, 'Any metric'),
    ALERT_METRICS.map(([k, label]) => h('option', { value: k }, label)));
  const issues = h('input', { type: 'checkbox', id: uid('issues') });
  const size = h('select', { id: uid('size') }, PAGE_SIZES.map((n) => h('option', { value: n }, String(n))));

  function syncControls() {
    if (document.activeElement !== search) search.value = state.search;
    status.value = state.status;
    status.disabled = state.issues;
    org.value = state.organization;
    metric.value = state.metric;
    issues.checked = state.issues;
    size.value = String(state.pageSize);
  }

  function go(changes, resetPage = true) {
    const next = { ...state, ...changes };
    if (resetPage) next.page = 1;
    location.hash = writeQuery(next);
  }

  search.addEventListener('input', debounce(() => go({ search: search.value.trim() }), 350));
  search.addEventListener('keydown', (e) => { if (e.key === 'Enter') go({ search: search.value.trim() }); });
  status.addEventListener('change', () => go({ status: status.value }));
  org.addEventListener('change', () => go({ organization: org.value }));
  metric.addEventListener('change', () => go({ metric: metric.value }));
  issues.addEventListener('change', () => go({ issues: issues.checked, status: '' }));
  size.addEventListener('change', () => go({ pageSize: Number(size.value) }));

  const filterBar = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter devices', onsubmit: (e) => e.preventDefault() },
    h('div', { class: 'field' }, h('label', { for: search.id }, 'Search'), search),
    h('div', { class: 'field' }, h('label', { for: status.id }, 'Status'), status),
    orgs.length > 1 ? h('div', { class: 'field' }, h('label', { for: org.id }, 'Organization'), org) : null,
    h('div', { class: 'field' }, h('label', { for: metric.id }, 'Problematic metric'), metric),
    h('div', { class: 'checkline' }, issues, h('label', { for: issues.id }, 'Show issues (critical and problem only)')),
    h('div', { class: 'field' }, h('label', { for: size.id }, 'Per page'), size));

  // ---- table --------------------------------------------------------------------------------
  const summary = h('p', { class: 'list-status', role: 'status', 'aria-live': 'polite' }, 'Loading…');
  const liveMsg = h('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
  const tbody = h('tbody', {});
  const wrap = h('div', { class: 'table-wrap', 'aria-busy': 'true' },
    h('table', { id: 'device-list', class: 'data' },
      h('caption', { class: 'sr-only' }, 'Devices, ordered by name'),
      h('thead', {}, h('tr', {},
        ['Name', 'Organization', 'Health', 'Problematic metrics', 'Management IP', 'Last seen'].map((t) => h('th', { scope: 'col' }, t)))),
      tbody));
  const pagerBox = h('div', {});
  const changed = h('p', { class: 'notice', hidden: true },
    'Some devices changed status since this page was loaded. ',
    h('button', { type: 'button', class: 'small', onclick: () => load() }, 'Refresh the list'));

  replace(el,
    h('div', { class: 'page-head' }, h('h1', {}, 'Devices')),
    filterBar, summary, liveMsg, changed, wrap, pagerBox);

  // ---- rows ---------------------------------------------------------------------------------
  async function loadIssues(id) {
    const row = rowsById.get(id);
    if (!row) return;
    replace(row.issuesCell, h('span', { class: 'muted' }, 'Loading…'));
    try {
      const list = await api(`${DEVICES}${id}/metric/`, { query: { is_healthy: 'false' } });
      row.unhealthy = list.map((m) => m.key);
      if (rowsById.get(id) !== row) return;
      replace(row.issuesCell, list.length
        ? h('ul', { class: 'issues' }, list.map((m) => h('li', {}, m.name)))
        : h('span', { class: 'muted' }, 'No unhealthy metrics found.'));
    } catch (x) {
      if (rowsById.get(id) !== row) return;
      replace(row.issuesCell, h('span', { class: 'error' }, 'Failed to load issues. '),
        h('button', { type: 'button', class: 'small', onclick: () => loadIssues(id) }, 'Retry'));
    }
  }

  function row(d) {
    const st = d.monitoring?.status || 'unknown';
    const badgeCell = h('td', { class: 'nowrap' }, badge(st));
    const issuesCell = h('td', {}, ISSUES.includes(st) ? h('span', { class: 'muted' }, '…') : h('span', { class: 'muted' }, '—'));
    const seen = d.last_seen
      ? h('time', { datetime: d.last_seen, title: when(d.last_seen) }, ago(d.last_seen))
      : h('span', { class: 'muted' }, 'never');
    const tr = h('tr', { dataset: { device: d.id } },
      h('th', { scope: 'row' }, h('a', { href: `#/device/${d.id}` }, d.name)),
      h('td', {}, ctx.orgName(d.organization)),
      badgeCell,
      issuesCell,
      h('td', { class: 'nowrap mono' }, d.management_ip || '—'),
      h('td', { class: 'nowrap' }, seen));
    rowsById.set(d.id, { tr, badgeCell, issuesCell, device: d, status: st });
    return tr;
  }

  async function load() {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    const signal = ctl.signal;
    wrap.setAttribute('aria-busy', 'true');
    wrap.classList.add('loading-dim');
    changed.hidden = true;
    try {
      let r = await fetchPage(state, signal);
      // A page beyond the end (the list shrank): show the last one.
      if (!r.rows.length && r.count > 0 && state.page > 1) {
        state = { ...state, page: Math.ceil(r.count / state.pageSize) };
        history.replaceState(null, '', `#${writeQuery(state)}`);
        r = await fetchPage(state, signal);
      }
      if (!alive || signal.aborted) return;
      rowsById.clear();
      replace(tbody, r.rows.length
        ? r.rows.map(row)
        : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No devices match these filters.')));
      const first = (state.page - 1) * state.pageSize + 1;
      summary.textContent = r.count
        ? `Showing ${num(first)}–${num(first + r.rows.length - 1)} of ${num(r.count)} device${r.count === 1 ? '' : 's'}.`
        : 'No devices.';
      replace(pagerBox, pager({
        page: state.page, count: r.count, pageSize: state.pageSize, label: 'Device list pages',
        onPage: (p) => go({ page: p }, false),
      }));
      const problems = r.rows.filter((d) => ISSUES.includes(d.monitoring?.status)).map((d) => d.id);
      pool(problems, 6, loadIssues);
    } catch (x) {
      if (isAbort(x) || !alive) return;
      rowsById.clear();
      replace(tbody, h('tr', {}, h('td', { colspan: 6 }, errorBox(x, 'The devices could not be loaded'))));
      summary.textContent = '';
      replace(pagerBox);
    } finally {
      if (!signal.aborted) {
        wrap.setAttribute('aria-busy', 'false');
        wrap.classList.remove('loading-dim');
      }
    }
  }

  // ---- live ---------------------------------------------------------------------------------
  const onStatus = (e) => {
    const { device, to } = e.detail || {};
    const r = rowsById.get(device);
    if (!r || !STATUS[to]) return;
    r.status = to;
    const b = badge(to);
    b.classList.add('changed');
    b.title = `Changed just now to ${to}`;
    replace(r.badgeCell, b);
    liveMsg.textContent = `${r.device.name} is now ${to}.`;
    if (ISSUES.includes(to)) loadIssues(device);
    else replace(r.issuesCell, h('span', { class: 'muted' }, '—'));
    // The row may no longer belong to this filtered list: offer a refresh, do not jump.
    if (state.status || state.issues || state.metric) changed.hidden = false;
  };
  const onResync = () => load();
  ctx.live.addEventListener('status', onStatus);
  ctx.live.addEventListener('resync', onResync);

  syncControls();
  load();

  return {
    update(q) {
      state = readQuery(q);
      syncControls();
      load();
    },
    cleanup() {
      alive = false;
      if (ctl) ctl.abort();
      ctx.live.removeEventListener('status', onStatus);
      ctx.live.removeEventListener('resync', onResync);
    },
  };
}
