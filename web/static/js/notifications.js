// The notifications page: one's notifications, newest first, a server page at a time (unread
// highlighted; mark one or all read; delete), and one's notification preferences (the e-mail
// address and per-organization/per-type rules for web and e-mail delivery).

import { api, isAbort } from './api.js';
import { h, replace, toast, ago, when, num } from './dom.js';
import { uid, pager, errorBox, busy } from './ui.js';

const NOTIFICATIONS = '/api/v1/notifications/notification/';
const PREFERENCES = '/api/v1/notifications/user/preferences/';
const PAGE_SIZE = 20;

/** The notification types of the metrics that alert (spec §5.8), with their labels. */
const TYPES = [
  ['ping_problem', 'Ping PROBLEM'], ['ping_recovery', 'Ping RECOVERY'],
  ['config_applied_problem', 'Configuration Applied PROBLEM'], ['config_applied_recovery', 'Configuration Applied RECOVERY'],
  ['data_collected_problem', 'Monitoring Data Collected PROBLEM'], ['data_collected_recovery', 'Monitoring Data Collected RECOVERY'],
  ['wifi_clients_max_problem', 'Max WiFi clients PROBLEM'], ['wifi_clients_max_recovery', 'Max WiFi clients RECOVERY'],
  ['wifi_clients_min_problem', 'Min WiFi clients PROBLEM'], ['wifi_clients_min_recovery', 'Min WiFi clients RECOVERY'],
  ['disk_problem', 'Disk usage PROBLEM'], ['disk_recovery', 'Disk usage RECOVERY'],
  ['memory_problem', 'Memory usage PROBLEM'], ['memory_recovery', 'Memory usage RECOVERY'],
  ['cpu_problem', 'CPU usage PROBLEM'], ['cpu_recovery', 'CPU usage RECOVERY'],
];

/**
 * The Markdown message as text, its links as links: `[name](url)` becomes a link to the
 * device page when the notification has a device, else to the URL if it is http(s).
 */
function message(n) {
  const text = n.message || '';
  const out = [];
  const re = /\[([^\]]*)\]\(([^)\s]*)\)/g;
  let at = 0;
  let m;
  while ((m = re.exec(text))) {
    out.push(text.slice(at, m.index));
    let href = null;
    if (n.target_object_id) href = `#/device/${n.target_object_id}`;
    else if (/^https?:\/\//i.test(m[2])) href = m[2];
    out.push(href ? h('a', { href }, m[1]) : m[1]);
    at = m.index + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}

export function render(el, ctx, query) {
  let alive = true;
  let page = Math.max(1, Number(query?.get('page')) || 1);
  let unreadOnly = query?.get('unread') === '1';
  let ctl = null;

  // ---- list ---------------------------------------------------------------------------------
  const status = h('p', { class: 'list-status', role: 'status', 'aria-live': 'polite' }, 'Loading…');
  const list = h('ul', { class: 'notes', 'aria-label': 'Notifications' });
  const pagerBox = h('div', {});
  const onlyUnread = h('input', { type: 'checkbox', id: uid('unread'), checked: unreadOnly,
    onchange: () => { unreadOnly = onlyUnread.checked; go(1); } });
  const markAll = h('button', { type: 'button', onclick: (e) => busy(e.currentTarget, async () => {
    const r = await api(`${NOTIFICATIONS}read/`, { method: 'POST', body: {} });
    toast(`${num(r?.marked_read ?? 0)} marked as read.`);
    ctx.refreshBell();
    await load();
  }) }, 'Mark all as read');

  function go(p) {
    const q = new URLSearchParams();
    if (p > 1) q.set('page', String(p));
    if (unreadOnly) q.set('unread', '1');
    const qs = q.toString();
    location.hash = qs ? `/notifications?${qs}` : '/notifications';
  }

  function item(n) {
    const readBtn = n.unread ? h('button', { type: 'button', class: 'small', onclick: (e) => busy(e.currentTarget, async () => {
      await api(`${NOTIFICATIONS}${n.id}/`, { method: 'PATCH' });
      ctx.refreshBell();
      await load();
    }) }, 'Mark as read') : null;
    const delBtn = h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete notification: ${n.email_subject || n.verb}`,
      onclick: (e) => busy(e.currentTarget, async () => {
        await api(`${NOTIFICATIONS}${n.id}/`, { method: 'DELETE' });
        toast('Notification deleted.');
        if (n.unread) ctx.refreshBell();
        await load();
      }) }, 'Delete');
    return h('li', { class: n.unread ? 'unread' : '' },
      h('div', {},
        h('div', { class: 'note-subject' },
          h('span', { class: `lvl lvl-${n.level === 'warning' ? 'warning' : 'info'}` }, n.level === 'warning' ? 'Problem' : 'Info'),
          h('span', {}, n.email_subject || `${n.type}: ${n.verb}`),
          n.unread ? h('span', { class: 'badge st-unknown' }, 'unread') : null),
        h('p', { class: 'note-msg' }, message(n)),
        h('p', { class: 'note-meta' },
          h('time', { datetime: n.timestamp, title: when(n.timestamp) }, ago(n.timestamp)),
          n.organization ? ` · ${ctx.orgName(n.organization)}` : '')),
      h('div', { class: 'note-actions' }, readBtn, delBtn));
  }

  async function load() {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    list.setAttribute('aria-busy', 'true');
    try {
      let r;
      try {
        r = await api(NOTIFICATIONS, { query: { page, page_size: PAGE_SIZE, unread: unreadOnly ? 'true' : '' }, signal: ctl.signal });
      } catch (x) {
        // The page went away (deleted, read): the first page instead.
        if (x.status !== 404 || page === 1) throw x;
        page = 1;
        r = await api(NOTIFICATIONS, { query: { page, page_size: PAGE_SIZE, unread: unreadOnly ? 'true' : '' }, signal: ctl.signal });
      }
      if (!alive) return;
      replace(list, r.results.map(item));
      status.textContent = r.count
        ? `${num(r.count)} ${unreadOnly ? 'unread ' : ''}notification${r.count === 1 ? '' : 's'}.`
        : (unreadOnly ? 'No unread notifications.' : 'No notifications.');
      list.hidden = !r.results.length;
      replace(pagerBox, pager({ page, count: r.count, pageSize: PAGE_SIZE, onPage: go, label: 'Notification pages' }));
    } catch (x) {
      if (isAbort(x) || !alive) return;
      status.textContent = '';
      replace(list, h('li', {}, errorBox(x, 'The notifications could not be loaded')));
      list.hidden = false;
    } finally {
      list.setAttribute('aria-busy', 'false');
    }
  }

  // ---- preferences --------------------------------------------------------------------------
  const prefsBox = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const orgs = ctx.session.organizations || [];

  function ruleRow(r, rows) {
    const orgSel = h('select', { 'aria-label': 'Organization' },
      h('option', { value: '' }, 'Any organization'),
      orgs.map((o) => h('option', { value: o.id }, o.name)));
    orgSel.value = r.organization || '';
    const types = TYPES.some(([k]) => k === r.type) || !r.type ? TYPES : [...TYPES, [r.type, r.type]];
    const typeSel = h('select', { 'aria-label': 'Notification type' },
      h('option', { value: '' }, 'Any type'),
      types.map(([k, label]) => h('option', { value: k }, label)));
    typeSel.value = r.type || '';
    const web = h('input', { type: 'checkbox', checked: r.web !== false, 'aria-label': 'Show in the web interface' });
    const email = h('input', { type: 'checkbox', checked: r.email !== false, 'aria-label': 'Send by e-mail' });
    const tr = h('tr', {},
      h('td', {}, orgSel), h('td', {}, typeSel), h('td', {}, web), h('td', {}, email),
      h('td', {}, h('button', { type: 'button', class: 'small danger', onclick: () => {
        rows.splice(rows.indexOf(entry), 1);
        tr.remove();
      } }, 'Remove')));
    const entry = {
      tr,
      value: () => ({ organization: orgSel.value || null, type: typeSel.value || null, web: web.checked, email: email.checked }),
    };
    return entry;
  }

  function drawPrefs(p) {
    const rows = [];
    const emailInput = h('input', { type: 'email', id: uid('email'), value: p.email || '', autocomplete: 'email', placeholder: 'name@example.net' });
    const tbody = h('tbody', {});
    const add = (r) => { const e = ruleRow(r, rows); rows.push(e); tbody.append(e.tr); };
    (p.rules || []).forEach(add);
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save preferences');
    const form = h('form', { class: 'form', onsubmit: (e) => {
      e.preventDefault();
      busy(save, async () => {
        const saved = await api(PREFERENCES, { method: 'PUT', body: { email: emailInput.value.trim() || null, rules: rows.map((r) => r.value()) } });
        toast('Notification preferences saved.');
        drawPrefs(saved);
      });
    } },
      h('div', { class: 'field' }, h('label', { for: emailInput.id }, 'E-mail address for notifications'), emailInput,
        h('small', { class: 'hint' }, 'Leave empty to receive no e-mail.')),
      h('div', {},
        h('h3', {}, 'Rules'),
        h('p', { class: 'muted small' },
          'Without rules every notification is shown here and e-mailed. For a notification the most specific rule applies: ',
          'organization and type, then organization, then type, then the rule for any. E-mail is sent only when web is on too.'),
        h('div', { class: 'table-wrap' }, h('table', { class: 'data rules' },
          h('thead', {}, h('tr', {}, ['Organization', 'Type', 'Web', 'E-mail', ''].map((t) => h('th', { scope: 'col' }, t)))),
          tbody)),
        h('p', {}, h('button', { type: 'button', onclick: () => add({ organization: null, type: null, web: true, email: true }) }, 'Add rule'))),
      h('div', { class: 'actions' }, save));
    replace(prefsBox, form);
  }

  async function loadPrefs() {
    try {
      const p = await api(PREFERENCES);
      if (alive) drawPrefs(p);
    } catch (x) {
      if (alive) replace(prefsBox, errorBox(x, 'The preferences could not be loaded'));
    }
  }

  const prefsTitle = uid('h');
  replace(el,
    h('div', { class: 'page-head' }, h('h1', {}, 'Notifications'),
      h('div', { class: 'controls' },
        h('div', { class: 'checkline' }, onlyUnread, h('label', { for: onlyUnread.id }, 'Unread only')),
        markAll)),
    status, list, pagerBox,
    h('section', { class: 'card', 'aria-labelledby': prefsTitle }, h('h2', { id: prefsTitle }, 'Preferences'), prefsBox));

  const onNew = () => { if (page === 1) load(); };
  const onRead = () => load();
  ctx.live.addEventListener('notification', onNew);
  ctx.live.addEventListener('notifications-read', onRead);
  ctx.live.addEventListener('resync', onRead);
  load();
  loadPrefs();
  return {
    update(q) {
      page = Math.max(1, Number(q.get('page')) || 1);
      unreadOnly = q.get('unread') === '1';
      onlyUnread.checked = unreadOnly;
      load();
    },
    cleanup() {
      alive = false;
      if (ctl) ctl.abort();
      ctx.live.removeEventListener('notification', onNew);
      ctx.live.removeEventListener('notifications-read', onRead);
      ctx.live.removeEventListener('resync', onRead);
    },
  };
}
