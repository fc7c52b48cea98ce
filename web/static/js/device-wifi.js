// The device page's "WiFi sessions" tab: GET /api/v1/monitoring/wifi-session/?device=…,
// paginated, newest first, optionally only the open sessions (stop_time__isnull=true).

import { h, replace, when } from './dom.js';
import { api } from './api.js';
import { errorBox, table } from './device-format.js';

const PAGE_SIZE = 25;

function flag(v) {
  const t = v === 'yes' || v === true ? 'yes' : v === 'no' || v === false ? 'no' : 'unknown';
  return h('span', { class: `flag flag-${t}` }, t);
}

/** Mounts the tab in `el`; returns its cleanup. */
export function mountWifi(el, ctx, device) {
  let page = 1;
  let openOnly = false;
  let disposed = false;
  let seq = 0;
  const open = h('input', { type: 'checkbox', id: 'wifi-open-only', onchange: () => { openOnly = open.checked; page = 1; load(); } });
  const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const body = h('div', {});
  const prev = h('button', { type: 'button', onclick: () => { page -= 1; load(); } }, 'Previous page');
  const next = h('button', { type: 'button', onclick: () => { page += 1; load(); } }, 'Next page');
  const refresh = h('button', { type: 'button', onclick: () => load() }, 'Refresh');
  replace(el, h('section', { class: 'card', 'aria-labelledby': 'wifi-h' },
    h('h2', { id: 'wifi-h' }, 'WiFi sessions'),
    h('div', { class: 'toolbar' }, h('span', { class: 'field-check' }, open, h('label', { for: 'wifi-open-only' }, 'Open sessions only')), refresh),
    status, body,
    h('div', { class: 'pager' }, prev, next)));

  async function load() {
    const my = ++seq;
    status.textContent = 'Loading sessions…';
    prev.disabled = true;
    next.disabled = true;
    let r;
    try {
      r = await api('/api/v1/monitoring/wifi-session/', { query: {
        device: device.id, page, page_size: PAGE_SIZE, stop_time__isnull: openOnly ? 'true' : undefined,
      } });
    } catch (x) {
      if (disposed || my !== seq) return;
      status.textContent = '';
      if (x.status === 404 && page > 1) { page = 1; load(); return; }
      replace(body, errorBox('The WiFi sessions could not be loaded', x));
      return;
    }
    if (disposed || my !== seq) return;
    const results = Array.isArray(r && r.results) ? r.results : [];
    const total = Number(r && r.count) || 0;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    status.textContent = total
      ? `${total} session${total === 1 ? '' : 's'}${openOnly ? ' open' : ''} · page ${page} of ${pages}`
      : '';
    prev.disabled = page <= 1;
    next.disabled = !(r && r.next);
    if (!results.length) {
      replace(body, h('p', { class: 'dev-note' }, openOnly ? 'No open WiFi sessions on this device.' : 'No WiFi sessions recorded for this device.'));
      return;
    }
    replace(body, table('WiFi sessions', ['Client MAC', 'Vendor', 'SSID', 'Interface', 'Start', 'Stop', 'WiFi 6', 'WiFi 5', 'WiFi 4'],
      results.map((s) => {
        const c = s.client && typeof s.client === 'object' ? s.client : {};
        return [
          String(c.mac_address ?? '—'), c.vendor ? String(c.vendor) : '—', s.ssid ? String(s.ssid) : '—',
          s.interface_name ? String(s.interface_name) : '—',
          h('time', { datetime: String(s.start_time ?? '') }, when(s.start_time)),
          s.stop_time ? h('time', { datetime: String(s.stop_time) }, when(s.stop_time)) : h('span', { class: 'badge st-ok' }, 'online'),
          flag(c.wifi6), flag(c.wifi5), flag(c.wifi4),
        ];
      }), { captionHidden: true }));
  }

  load();
  return () => { disposed = true; };
}
