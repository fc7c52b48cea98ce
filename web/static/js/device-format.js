// Formatting for the device pages: sizes, rates, durations and the small building blocks
// (key/value lists, tables, meters) the tabs share. Everything a device or the server sends
// goes into the page as text.

import { h } from './dom.js';

/** A finite number or null (device documents sometimes carry strings or garbage). */
export function num(v) {
  if (v === null || v === undefined || v === '' || typeof v === 'boolean') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

/** Rounds for display: two decimals, four below 0.01, trailing zeros dropped. */
export function round(v) {
  const n = num(v);
  if (n === null) return '—';
  const a = Math.abs(n);
  const digits = a !== 0 && a < 0.01 ? 4 : 2;
  return String(Number(n.toFixed(digits)));
}

const DECIMAL = ['', 'K', 'M', 'G', 'T', 'P', 'E'];

/** Picks a decimal (×1000) prefix for `n`: [divisor, prefix]. */
export function prefixFor(n) {
  let i = 0;
  let a = Math.abs(n);
  while (a >= 1000 && i < DECIMAL.length - 1) { a /= 1000; i += 1; }
  return [1000 ** i, DECIMAL[i]];
}

/** Bytes with binary steps as routers count memory and disks ("1.5 GiB" style, shown as "GB"). */
export function bytes(v) {
  const n = num(v);
  if (n === null) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let a = Math.abs(n);
  while (a >= 1024 && i < units.length - 1) { a /= 1024; i += 1; }
  const s = i === 0 ? String(Math.round(n)) : (n / 1024 ** i).toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
  return `${s} ${units[i]}`;
}

/** Traffic volume with decimal steps (network counters: 1 MB = 10^6 bytes). */
export function traffic(v) {
  const n = num(v);
  if (n === null) return '—';
  const [d, p] = prefixFor(n);
  return `${round(n / d)} ${p}B`;
}

/** Bits per second with decimal steps. */
export function bps(v) {
  const n = num(v);
  if (n === null) return '—';
  const [d, p] = prefixFor(n);
  return `${round(n / d)} ${p}bit/s`;
}

/** A plain integer with grouping (packet counters). */
export function count(v) {
  const n = num(v);
  if (n === null) return '—';
  return Math.round(n).toLocaleString();
}

/** "3 days 4 hours" / "5 hours 12 minutes" / "42 seconds". */
export function duration(seconds) {
  const s = num(seconds);
  if (s === null || s < 0) return '—';
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const plural = (n, w) => `${n} ${w}${n === 1 ? '' : 's'}`;
  if (d > 0) return hh > 0 ? `${plural(d, 'day')} ${plural(hh, 'hour')}` : plural(d, 'day');
  if (hh > 0) return mm > 0 ? `${plural(hh, 'hour')} ${plural(mm, 'minute')}` : plural(hh, 'hour');
  if (mm > 0) return plural(mm, 'minute');
  return plural(Math.floor(s), 'second');
}

/** Epoch seconds as a date and time in the browser's zone. */
export function epoch(seconds) {
  const s = num(seconds);
  if (s === null) return '—';
  return new Date(s * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Yes/no/unknown for booleans that may be missing. */
export function yesNo(v) {
  if (v === true) return 'yes';
  if (v === false) return 'no';
  return 'unknown';
}

/** A value with a unit suffix, or a dash. */
export function withUnit(v, unit) {
  const n = num(v);
  return n === null ? '—' : `${round(n)} ${unit}`;
}

/** Text of any scalar a device may send; objects become JSON text. */
export function text(v) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A definition list from [label, value] pairs, skipping pairs whose value is undefined. */
export function kv(pairs, cls = 'kv') {
  const items = pairs.filter(([, v]) => v !== undefined);
  return h('dl', { class: cls }, items.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v === null ? '—' : v))));
}

/**
 * A table in a horizontally scrollable wrapper: `cols` are header labels, `rows` arrays of
 * cells (strings or nodes). `caption` names the table for screen readers.
 */
export function table(caption, cols, rows, { captionHidden = false, cls = '' } = {}) {
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    h('table', { class: `data ${cls}`.trim() },
      h('caption', { class: captionHidden ? 'visually-hidden' : '' }, caption),
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c === null || c === undefined ? '—' : c)))))));
}

/** A labelled meter (bar) for a percentage; colours change at 75 % and 90 %. */
export function meter(percent, label) {
  const p = num(percent);
  const v = p === null ? 0 : Math.max(0, Math.min(100, p));
  const bar = h('span', { class: 'meter-fill' });
  bar.style.width = `${v}%`;
  const level = v >= 90 ? 'high' : v >= 75 ? 'mid' : 'low';
  return h('span', { class: `meter meter-${level}`, role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.round(v)), 'aria-label': label },
    h('span', { class: 'meter-track' }, bar),
    h('span', { class: 'meter-text' }, p === null ? '—' : `${round(p)}%`));
}

/** An error box with the message of an API error. */
export function errorBox(message, err) {
  return h('p', { class: 'error dev-note', role: 'alert' }, err ? `${message}: ${err.message || err}` : message);
}

/** Whether the session may change objects of organization `org`. */
export function canManage(session, org) {
  if (!session) return false;
  if (session.is_superuser) return true;
  return (session.organizations || []).some((o) => o.id === org && (o.role === 'admin' || o.role === 'superuser'));
}

/** The organization's name from the session, else its id. */
export function orgName(session, org) {
  const o = ((session && session.organizations) || []).find((x) => x.id === org);
  return o ? o.name : org;
}

let uid = 0;
/** A page-unique id for label/aria wiring. */
export function nextId(prefix = 'd') {
  uid += 1;
  return `${prefix}-${uid}`;
}
