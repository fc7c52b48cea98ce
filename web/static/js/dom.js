// DOM helpers. Text always goes in as text nodes, never as HTML, so nothing a device or a
// user sends can become markup (the Content-Security-Policy forbids inline code as well).

/** Creates an element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden') {
      el[k] = Boolean(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

/** Appends children (strings, numbers, nodes, arrays of them; null/undefined skipped). */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Shows a short message in the corner (errors, confirmations). */
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: `toast toast-${kind}` }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/** Formats an ISO time or ms timestamp for people, in the browser's zone. */
export function when(t) {
  if (t === null || t === undefined || t === '') return '—';
  const d = typeof t === 'number' ? new Date(t) : new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** "5 minutes ago" style relative time. */
export function ago(t) {
  if (!t) return 'never';
  const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  if (!Number.isFinite(s)) return String(t);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const steps = [[60, 'second'], [60, 'minute'], [24, 'hour'], [30, 'day'], [12, 'month']];
  let v = -s;
  for (const [n, unit] of steps) {
    if (Math.abs(v) < n) return rtf.format(Math.round(v), unit);
    v /= n;
  }
  return rtf.format(Math.round(v), 'year');
}

/** The health status names, labels and CSS classes used everywhere. */
export const STATUS = {
  ok: { label: 'ok', cls: 'st-ok' },
  problem: { label: 'problem', cls: 'st-problem' },
  critical: { label: 'critical', cls: 'st-critical' },
  unknown: { label: 'unknown', cls: 'st-unknown' },
  deactivated: { label: 'deactivated', cls: 'st-deactivated' },
};

/** The statuses from worst to least telling: the order of legends, rings and filters. */
export const STATUS_ORDER = ['critical', 'problem', 'ok', 'unknown', 'deactivated'];

/** What each status means, for tooltips and help text (spec §5.5). */
export const STATUS_HELP = {
  ok: 'operating normally',
  problem: 'having issues but still communicating',
  critical: 'not communicating with the server',
  unknown: 'not known yet',
  deactivated: 'deactivated',
};

/** A status badge. */
export function badge(status) {
  const s = STATUS[status] || STATUS.unknown;
  return h('span', { class: `badge ${s.cls}` }, s.label);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Creates an SVG element: svg('path', {d: '…', class: 'x'}, child, ...). Text goes in as text. */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Runs fn at most once per `ms`, with the latest arguments, after calls stop arriving for a moment. */
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  let args = [];
  const run = () => {
    timer = null;
    last = Date.now();
    fn(...args);
  };
  const wrapped = (...a) => {
    args = a;
    if (timer) return;
    timer = setTimeout(run, Math.max(0, last + ms - Date.now()));
  };
  wrapped.cancel = () => { if (timer) clearTimeout(timer); timer = null; };
  return wrapped;
}

/** Runs fn once calls have stopped for `ms`. */
export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...a) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; fn(...a); }, ms);
  };
  wrapped.cancel = () => { if (timer) clearTimeout(timer); timer = null; };
  return wrapped;
}

/** A readable number: 1234 → "1,234". */
export function num(n) {
  return typeof n === 'number' ? n.toLocaleString() : String(n ?? '—');
}
