// Building blocks shared by the pages: labelled form fields, pagination, error boxes, copy
// buttons and what the session says about roles. Everything goes through `h()`, so text from
// the server stays text.

import { h, replace, toast } from './dom.js';

let seq = 0;

/** A fresh element id with a readable prefix. */
export function uid(prefix = 'f') {
  seq += 1;
  return `${prefix}-${seq}`;
}

/**
 * A label and its control (the control gets an id if it has none), plus an optional hint
 * tied to the control by `aria-describedby`.
 */
export function field(label, control, { hint, cls } = {}) {
  if (!control.id) control.id = uid('f');
  const parts = [h('label', { for: control.id }, label), control];
  if (hint) {
    const hid = uid('hint');
    control.setAttribute('aria-describedby', hid);
    parts.push(h('small', { id: hid, class: 'hint' }, hint));
  }
  return h('div', { class: `field${cls ? ` ${cls}` : ''}` }, parts);
}

/** A checkbox with its label after it. */
export function checkbox(label, { checked = false, name, onchange, id } = {}) {
  const input = h('input', { type: 'checkbox', id: id || uid('c'), name, checked, onchange });
  return { input, el: h('div', { class: 'checkline' }, input, h('label', { for: input.id }, label)) };
}

/** A `<select>` of [value, label] pairs. */
export function select(options, { value, name, id, onchange } = {}) {
  const el = h('select', { name, id, onchange },
    options.map(([v, label]) => h('option', { value: v }, label)));
  if (value !== undefined && value !== null) el.value = String(value);
  return el;
}

/** A visible error line for a failed request (also announced). */
export function errorBox(x, prefix = '') {
  const msg = x instanceof Error ? x.message : String(x);
  return h('p', { class: 'error', role: 'alert' }, prefix ? `${prefix}: ${msg}` : msg);
}

/** Shows a request error in `el` (replacing its content) and as a toast. */
export function showError(el, x, prefix) {
  if (el) replace(el, errorBox(x, prefix));
  else toast(prefix ? `${prefix}: ${x.message}` : x.message, 'error');
}

/** "Previous / Page n of m / Next" for a server-side paginated list. */
export function pager({ page, count, pageSize, onPage, label = 'Pages' }) {
  const pages = Math.max(1, Math.ceil(count / pageSize));
  if (pages <= 1) return h('nav', { class: 'pager', 'aria-label': label, hidden: true });
  return h('nav', { class: 'pager', 'aria-label': label },
    h('button', { type: 'button', disabled: page <= 1, onclick: () => onPage(1), 'aria-label': 'First page' }, '«'),
    h('button', { type: 'button', disabled: page <= 1, onclick: () => onPage(page - 1) }, 'Previous'),
    h('span', { class: 'pager-at' }, `Page ${page} of ${pages}`),
    h('button', { type: 'button', disabled: page >= pages, onclick: () => onPage(page + 1) }, 'Next'),
    h('button', { type: 'button', disabled: page >= pages, onclick: () => onPage(pages), 'aria-label': 'Last page' }, '»'));
}

/** A button that copies `text()` to the clipboard and says so. */
export function copyButton(text, label = 'Copy') {
  return h('button', { type: 'button', onclick: async (e) => {
    const value = text();
    try {
      await navigator.clipboard.writeText(value);
      toast('Copied to the clipboard.');
    } catch {
      // No clipboard permission (plain http): select the text so Ctrl+C works.
      const input = e.currentTarget.parentElement.querySelector('input');
      if (input) { input.focus(); input.select(); }
      toast('Press Ctrl+C to copy the selected text.');
    }
  } }, label);
}

/** Organization id → name, from the session. */
export function orgNames(ctx) {
  return new Map((ctx.session.organizations || []).map((o) => [o.id, o.name]));
}

/** Whether the user administers at least one organization (or is a superuser). */
export function isManager(ctx) {
  const s = ctx.session;
  return s.is_superuser || (s.organizations || []).some((o) => o.role === 'admin' || o.role === 'superuser');
}

/** The organizations the user manages. */
export function managedOrgs(ctx) {
  const s = ctx.session;
  return (s.organizations || []).filter((o) => s.is_superuser || o.role === 'admin' || o.role === 'superuser');
}

/** Runs async `work` with `button` disabled meanwhile; errors become a toast. */
export async function busy(button, work) {
  if (button) button.disabled = true;
  try {
    return await work();
  } catch (x) {
    toast(x.message, 'error');
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function pool(items, limit, fn) {
  let i = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (i < items.length) {
      const item = items[i];
      i += 1;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/**
 * Radio buttons picking one time range of `times` ([value, title] pairs), `current` checked;
 * `onChange(value)` runs when another is picked.
 */
export function timeRangePicker(times, current, onChange) {
  const name = uid('time');
  return h('fieldset', { class: 'segmented' },
    h('legend', {}, 'Time range'),
    times.map(([v, label]) => {
      const id = uid('t');
      return h('span', {},
        h('input', { type: 'radio', name, id, value: v, checked: v === current, onchange: () => onChange(v) }),
        h('label', { for: id, title: label }, v));
    }));
}
