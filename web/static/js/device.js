// The device page (`#/device/{id}[/{tab}]`): header with the live health badge, and five
// tabs: Status, Charts, Alerts & checks, WiFi sessions, Health. Each tab lives in its own
// module and returns a cleanup; switching tabs keeps the header and updates the address with
// history.pushState (back/forward go through the router again).

import { h, replace, ago, when, badge } from './dom.js';
import { api } from './api.js';
import { canManage, orgName, errorBox } from './device-format.js';
import { mountStatus } from './device-status.js';
import { mountCharts } from './device-charts.js';
import { mountAlerts } from './device-alerts.js';
import { mountWifi } from './device-wifi.js';
import { mountHealth } from './device-health.js';

const TABS = [
  ['status', 'Status', mountStatus],
  ['charts', 'Charts', mountCharts],
  ['alerts', 'Alerts & checks', mountAlerts],
  ['wifi', 'WiFi sessions', mountWifi],
  ['health', 'Health', mountHealth],
];

/** Router entry: renders the page into `el`; returns the cleanup. */
export async function render(el, ctx, id, tab = 'status') {
  let current = TABS.some(([k]) => k === tab) ? tab : 'status';
  el.classList.add('device-page');
  let device;
  replace(el, h('p', { class: 'loading' }, 'Loading device…'));
  try {
    device = await api(`/api/v1/controller/device/${encodeURIComponent(id)}/`);
  } catch (x) {
    replace(el,
      h('h1', {}, x.status === 404 ? 'Device not found' : 'Device'),
      x.status === 404
        ? h('p', { class: 'dev-note' }, 'This device does not exist or you cannot see it.')
        : errorBox('The device could not be loaded', x),
      h('p', {}, h('a', { href: '#/devices' }, 'Back to the device list')));
    return undefined;
  }

  const manage = canManage(ctx.session, device.organization);
  const page = { ctx, device, manage, setStatus: null };
  let tabCleanup = null;
  let disposed = false;

  // Header -------------------------------------------------------------------------------
  const badgeBox = h('span', { class: 'device-badge', 'aria-live': 'polite' });
  const title = h('h1', { class: 'device-name' });
  const facts = h('dl', { class: 'device-facts' });
  function paintHeader() {
    document.title = `${device.name} · wispmon`;
    replace(title, device.name);
    replace(badgeBox, h('span', { class: 'visually-hidden' }, 'Health: '), badge(device.monitoring && device.monitoring.status));
    const lastSeen = device.last_seen
      ? h('time', { datetime: device.last_seen, title: when(device.last_seen) }, ago(device.last_seen))
      : 'never';
    const fact = (k, v) => h('div', {}, h('dt', {}, k), h('dd', {}, v || '—'));
    // What the router's config agent last reported (absent for devices without one).
    const cfg = device.config;
    const configFact = cfg && fact('Configuration', cfg.status === 'error'
      ? h('span', { class: 'config-error', title: cfg.error_reason }, `error: ${(cfg.error_reason || '').split('\n')[0] || 'no reason given'}`)
      : h('span', { title: `archive ${cfg.checksum}` }, cfg.status === 'modified'
        ? `pending since ${ago(cfg.status_changed)}` : `${cfg.status} ${ago(cfg.status_changed)}`));
    replace(facts,
      fact('Organization', orgName(ctx.session, device.organization)),
      fact('Management IP', device.management_ip),
      fact('Last IP', device.last_ip),
      fact('Last seen', lastSeen),
      fact('MAC address', device.mac_address),
      fact('Model', device.model),
      fact('Firmware', device.os),
      configFact,
      device.is_deactivated ? fact('State', 'deactivated') : null);
  }
  paintHeader();
  page.setStatus = (s) => {
    if (!device.monitoring) device.monitoring = {};
    device.monitoring.status = s;
    paintHeader();
  };

  // Tabs ---------------------------------------------------------------------------------
  const panel = h('div', { class: 'tabpanel', role: 'tabpanel', id: 'device-tabpanel', tabindex: '0' });
  const buttons = TABS.map(([key, label]) => h('button', {
    type: 'button', role: 'tab', id: `device-tab-${key}`, 'aria-controls': 'device-tabpanel',
    'aria-selected': 'false', tabindex: '-1', dataset: { tab: key },
    onclick: () => select(key, true),
    onkeydown: (e) => onKey(e, key),
  }, label));
  const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Device sections' }, buttons);

  function onKey(e, key) {
    const i = TABS.findIndex(([k]) => k === key);
    let j = null;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') j = (i + 1) % TABS.length;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') j = (i - 1 + TABS.length) % TABS.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = TABS.length - 1;
    if (j === null) return;
    e.preventDefault();
    select(TABS[j][0], true);
    buttons[j].focus();
  }

  function select(key, push) {
    if (disposed) return;
    if (key === current && tabCleanup) return;
    current = key;
    for (const b of buttons) {
      const on = b.dataset.tab === key;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
    }
    panel.setAttribute('aria-labelledby', `device-tab-${key}`);
    if (push) {
      const hash = `#/device/${id}/${key}`;
      if (location.hash !== hash) history.pushState(null, '', hash);
    }
    if (typeof tabCleanup === 'function') { try { tabCleanup(); } catch { /* tab already gone */ } }
    tabCleanup = null;
    const content = h('div', { class: `tab-${key}` });
    replace(panel, content);
    const mount = TABS.find(([k]) => k === key)[2];
    try {
      tabCleanup = mount(content, ctx, device, page) || null;
    } catch (x) {
      replace(content, errorBox('This tab could not be shown', x));
    }
  }

  replace(el,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/devices' }, 'Devices'), ' / ', device.name),
    h('header', { class: 'device-head' }, h('div', { class: 'device-title' }, title, badgeBox), facts),
    tablist, panel);
  select(current, false);
  if (current !== tab) history.replaceState(null, '', `#/device/${id}/${current}`);

  // Live updates -------------------------------------------------------------------------
  const onStatus = (e) => {
    const d = e.detail || {};
    if (d.device !== device.id || !d.to) return;
    page.setStatus(d.to);
  };
  const onResync = async () => {
    try {
      const fresh = await api(`/api/v1/controller/device/${encodeURIComponent(id)}/`);
      if (disposed) return;
      device = Object.assign(device, fresh);
      paintHeader();
    } catch { /* keep what is shown */ }
  };
  ctx.live.addEventListener('status', onStatus);
  ctx.live.addEventListener('resync', onResync);

  return () => {
    disposed = true;
    ctx.live.removeEventListener('status', onStatus);
    ctx.live.removeEventListener('resync', onResync);
    if (typeof tabCleanup === 'function') { try { tabCleanup(); } catch { /* ignore */ } }
    tabCleanup = null;
  };
}
