// The device page's "Status" tab: the latest NetJSON DeviceMonitoring snapshot
// (GET /api/v1/monitoring/device/{pk}/?status=true → `data`), shown as upstream's status
// page does: general, CPU, memory, storage, every interface (wireless, mobile, clients,
// addresses, counters), DHCP leases and neighbours. Every section is optional.

import { h, replace } from './dom.js';
import { api } from './api.js';
import { timeframeQuery } from './charts.js';
import {
  num, round, bytes, traffic, count, duration, epoch, yesNo, withUnit, text, kv, table, meter,
  errorBox, nextId,
} from './device-format.js';

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const list = (v) => (Array.isArray(v) ? v : []);

/** Mounts the tab in `el`; returns its cleanup. */
export function mountStatus(el, ctx, device) {
  let disposed = false;
  replace(el, h('p', { class: 'loading' }, 'Loading the latest status…'));
  api(`/api/v1/monitoring/device/${encodeURIComponent(device.id)}/`, { query: { ...timeframeQuery({ time: '1d' }), status: 'true' } })
    .then((body) => {
      if (disposed) return;
      const data = body && body.data;
      if (!isObj(data)) {
        replace(el, h('p', { class: 'dev-note' }, 'This device has not sent any monitoring data yet.'));
        return;
      }
      try {
        replace(el, statusView(data, device));
      } catch (x) {
        replace(el, errorBox('The status could not be shown', x));
      }
    })
    .catch((x) => { if (!disposed) replace(el, errorBox('The status could not be loaded', x)); });
  return () => { disposed = true; };
}

function card(title, ...content) {
  const id = nextId('sec');
  return h('section', { class: 'card status-card', 'aria-labelledby': id }, h('h2', { id }, title), ...content);
}

function statusView(d, device) {
  const out = [];
  const g = isObj(d.general) ? d.general : {};
  const r = isObj(d.resources) ? d.resources : {};
  out.push(card('General', kv([
    ['Hostname', text(g.hostname)],
    // local_time is epoch seconds already shifted by the router's zone: show it as UTC.
    ['Local time (device clock)', num(g.local_time) === null ? '—'
      : new Date(num(g.local_time) * 1000).toLocaleString(undefined, { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'medium' })],
    ['Uptime', duration(g.uptime)],
    ['Model', text(device.model || null)],
    ['Firmware', text(device.os || null)],
    ['System', text(device.system || null)],
  ]), h('p', { class: 'hint' }, 'Local time and uptime as reported in the latest data the device sent.')));

  const res = resources(r);
  if (res) out.push(res);
  const storage = disks(r.disk);
  if (storage) out.push(storage);

  const ifaces = list(d.interfaces).filter(isObj)
    .filter((i) => Object.keys(i).length > 2)
    .sort((a, b) => String(a.name).localeCompare(String(b.name)));
  if (ifaces.length) {
    const nav = h('ul', { class: 'iface-index' }, ifaces.map((i) => h('li', {}, jump(String(i.name ?? '?')))));
    out.push(card('Interfaces', nav, ifaces.map(iface)));
  }

  const dns = [...list(d.dns_servers), ...list(d.dns_search)];
  if (dns.length) {
    out.push(card('DNS', kv([
      ['DNS servers', list(d.dns_servers).map(String).join(', ') || '—'],
      ['DNS search domains', list(d.dns_search).map(String).join(', ') || '—'],
    ])));
  }

  const leases = list(d.dhcp_leases).filter(isObj);
  if (leases.length) {
    out.push(card('DHCP leases', table('DHCP leases', ['IP address', 'MAC address', 'Vendor', 'Client name', 'Client ID', 'Expiry'],
      leases.map((l) => [text(l.ip), text(l.mac), text(l.vendor || null), text(l.client_name), text(l.client_id),
        num(l.expiry) === 0 ? 'never' : epoch(l.expiry)]), { captionHidden: true })));
  }

  const neigh = list(d.neighbors).filter(isObj);
  if (neigh.length) {
    out.push(card('Neighbors', table('Neighbors', ['IP address', 'MAC address', 'Vendor', 'Interface', 'State'],
      neigh.map((n) => [text(n.ip), text(n.mac), text(n.vendor || null), text(n.interface), text(n.state)]), { captionHidden: true })));
  }
  return h('div', { class: 'status-grid' }, out);
}

function resources(r) {
  const parts = [];
  const load = list(r.load).map(num);
  const cpus = num(r.cpus);
  if (load.length || cpus !== null) {
    const usage = load[0] !== null && load[0] !== undefined && cpus ? (100 * load[0]) / cpus : null;
    parts.push(h('h3', {}, 'CPU'), kv([
      ['CPU load', usage === null ? '—' : meter(usage, 'CPU load')],
      ['Load average (1, 5, 15 min)', load.length ? load.map((v) => round(v)).join(', ') : '—'],
      ['Cores', cpus === null ? '—' : String(cpus)],
    ]));
  }
  const m = isObj(r.memory) ? r.memory : null;
  if (m) {
    const total = num(m.total);
    const free = num(m.free);
    const buffered = num(m.buffered) ?? 0;
    const avail = num(m.available);
    // Same rule as the memory metric: available replaces free when it is larger.
    const base = avail !== null && free !== null && avail > free ? avail : free;
    const used = total && base !== null ? 100 * (1 - (base + buffered) / total) : null;
    parts.push(h('h3', {}, 'Memory (RAM)'), kv([
      ['Used', used === null ? '—' : meter(used, 'Memory used')],
      ['Total', bytes(m.total)],
      ['Free', bytes(m.free)],
      avail !== null ? ['Available', bytes(m.available)] : [undefined, undefined],
      ['Buffered', bytes(m.buffered)],
      num(m.cached) !== null ? ['Cached', bytes(m.cached)] : [undefined, undefined],
      ['Shared', bytes(m.shared)],
    ].filter(([k]) => k !== undefined)));
  }
  const s = isObj(r.swap) ? r.swap : null;
  if (s && num(s.total)) {
    const used = 100 * (1 - (num(s.free) ?? 0) / num(s.total));
    parts.push(h('h3', {}, 'Swap'), kv([['Used', meter(used, 'Swap used')], ['Total', bytes(s.total)], ['Free', bytes(s.free)]]));
  }
  return parts.length ? card('Resources', parts) : null;
}

function disks(disk) {
  const rows = list(disk).filter(isObj);
  if (!rows.length) return null;
  return card('Storage', table('Storage', ['Filesystem', 'Mounted on', 'Used', 'Available', 'Total', 'Used %'],
    rows.map((x) => {
      const pct = num(x.used_percent) ?? (num(x.size_bytes) ? (100 * (num(x.used_bytes) ?? 0)) / num(x.size_bytes) : null);
      return [text(x.filesystem), text(x.mount_point), bytes(x.used_bytes), bytes(x.available_bytes), bytes(x.size_bytes),
        meter(pct, `${text(x.mount_point)} used`)];
    }), { captionHidden: true }));
}

function ifaceId(name) {
  return `iface-${String(name).replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** An in-page link to an interface section (a button: `#` belongs to the router). */
function jump(name) {
  return h('button', { type: 'button', class: 'link', onclick: () => {
    const t = document.getElementById(ifaceId(name));
    if (t) { t.scrollIntoView({ behavior: 'smooth', block: 'start' }); t.focus({ preventScroll: true }); }
  } }, name);
}

function wifiVersion(htmode) {
  if (!htmode) return null;
  const m = String(htmode).toUpperCase();
  if (m.startsWith('HE')) return `WiFi 6 (802.11ax): ${htmode}`;
  if (m.startsWith('VHT')) return `WiFi 5 (802.11ac): ${htmode}`;
  if (m.startsWith('HT')) return `WiFi 4 (802.11n): ${htmode}`;
  if (m === 'NOHT') return `Legacy Mode: ${htmode}`;
  return `Other: ${htmode}`;
}

function iface(i) {
  const name = String(i.name ?? '?');
  const id = ifaceId(name);
  const w = isObj(i.wireless) ? i.wireless : null;
  const mob = isObj(i.mobile) ? i.mobile : null;
  const pairs = [
    ['Type', text(i.type)],
    ['Up', yesNo(i.up)],
    ['MAC address', text(i.mac)],
    ['MTU', text(i.mtu)],
  ];
  if (i.speed !== undefined) pairs.push(['Speed', String(i.speed).startsWith('-1') ? 'no link' : text(i.speed)]);
  if (i.multicast !== undefined) pairs.push(['Multicast', yesNo(i.multicast)]);
  if (i.txqueuelen !== undefined) pairs.push(['Transmit queue length', text(i.txqueuelen)]);
  if (i.stp !== undefined) pairs.push(['Spanning Tree Protocol', yesNo(i.stp)]);
  if (Array.isArray(i.bridge_members)) {
    pairs.push(['Bridge members', i.bridge_members.length
      ? h('span', { class: 'members' }, i.bridge_members.map((b) => jump(String(b))))
      : '—']);
  }
  const body = [kv(pairs)];

  if (w) {
    const q = num(w.quality);
    const qm = num(w.quality_max);
    body.push(h('h4', {}, 'Wireless'), kv([
      ['Mode', text(w.mode === undefined ? null : String(w.mode).replace(/_/g, ' '))],
      ['WiFi version', text(wifiVersion(w.htmode))],
      ['SSID', text(w.ssid)],
      ['Channel', text(w.channel)],
      ['Frequency', num(w.frequency) === null ? '—' : `${round(num(w.frequency) / 1000)} GHz`],
      ['Transmit power', withUnit(w.tx_power, 'dBm')],
      ['Signal', withUnit(w.signal, 'dBm')],
      ['Noise', num(w.noise) === 0 ? 'not measured' : withUnit(w.noise, 'dBm')],
      ['Bitrate', withUnit(w.bitrate, 'Mbit/s')],
      ['Quality', q === null ? '—' : qm ? `${q} / ${qm}` : String(q)],
      ['Country', text(w.country)],
      ['Associated clients', String(list(w.clients).length)],
    ]));
    const clients = list(w.clients).filter(isObj);
    if (clients.length) {
      const station = String(w.mode) === 'station';
      const flag = (v) => h('span', { class: `flag flag-${yesNo(v)}` }, yesNo(v));
      body.push(table(`${station ? 'Access point' : 'Associated clients'} of ${name}`,
        [station ? 'Access Point' : 'Associated client', 'Vendor', 'Signal', 'Rate (rx / tx)', 'HE', 'VHT', 'HT', 'WMM', 'WDS', 'WPS'],
        clients.map((c) => [
          text(c.mac), text(c.vendor || null), withUnit(c.signal, 'dBm'),
          isObj(c.rate) ? `${withUnit(num(c.rate.rx) === null ? null : num(c.rate.rx) / 1000, 'Mbit/s')} / ${withUnit(num(c.rate.tx) === null ? null : num(c.rate.tx) / 1000, 'Mbit/s')}` : '—',
          flag(c.he), flag(c.vht), flag(c.ht), flag(c.wmm), flag(c.wds), flag(c.wps),
        ]), { cls: 'clients' }));
    }
  }

  if (mob) {
    body.push(h('h4', {}, 'Mobile'), kv([
      ['Connection status', text(mob.connection_status)],
      ['Power status', text(mob.power_status)],
      ['Operator', mob.operator_name || mob.operator_code ? `${text(mob.operator_name || null)}${mob.operator_code ? ` (${mob.operator_code})` : ''}` : '—'],
      ['Manufacturer', text(mob.manufacturer)],
      ['Model', text(mob.model)],
      ['IMEI', text(mob.imei)],
    ]));
    const sig = isObj(mob.signal) ? mob.signal : {};
    const techs = Object.keys(sig).filter((t) => isObj(sig[t]));
    if (techs.length) {
      const cols = [['rssi', 'RSSI', 'dBm'], ['rsrp', 'RSRP', 'dBm'], ['rscp', 'RSCP', 'dBm'], ['rsrq', 'RSRQ', 'dB'], ['snr', 'SNR', 'dB'], ['sinr', 'SINR', 'dB'], ['ecio', 'Ec/Io', 'dB'], ['io', 'Io', 'dBm']]
        .filter(([k]) => techs.some((t) => sig[t][k] !== undefined));
      body.push(table(`Mobile signal of ${name}`, ['Technology', ...cols.map(([, l]) => l)],
        techs.map((t) => [t.toUpperCase(), ...cols.map(([k, , u]) => withUnit(sig[t][k], u))])));
    }
  }

  const addrs = list(i.addresses).filter(isObj);
  if (addrs.length) {
    body.push(table(`Addresses of ${name}`, ['Address', 'Family', 'Protocol', 'Gateway'],
      addrs.map((a) => [`${text(a.address)}${a.mask !== undefined ? `/${a.mask}` : ''}`, text(a.family), text(a.proto), text(a.gateway)])));
  }

  const st = isObj(i.statistics) ? i.statistics : null;
  if (st) {
    body.push(table(`Traffic counters of ${name}`, ['', 'Bytes', 'Packets', 'Errors', 'Dropped'], [
      ['Received', traffic(st.rx_bytes), count(st.rx_packets), count(st.rx_errors), count(st.rx_dropped)],
      ['Transmitted', traffic(st.tx_bytes), count(st.tx_packets), count(st.tx_errors), count(st.tx_dropped)],
    ], { cls: 'counters' }));
    const rest = Object.keys(st).filter((k) => !/^(rx|tx)_(bytes|packets|errors|dropped)$/.test(k)).sort();
    if (rest.length) {
      body.push(h('details', { class: 'more-counters' }, h('summary', {}, 'All counters'),
        kv(rest.map((k) => [k.replace(/_/g, ' '), count(st[k])]), 'kv kv-compact')));
    }
  }
  const hid = nextId('if');
  return h('section', { class: 'iface', id, tabindex: '-1', 'aria-labelledby': hid },
    h('h3', { id: hid }, name, i.up === false ? h('span', { class: 'tag tag-down' }, 'down') : null), body);
}
