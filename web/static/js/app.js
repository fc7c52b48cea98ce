// The application: session, top bar (with the notification bell), routing (after `#`), and
// live updates from the server. Each page is a module exporting `render(main, ctx, ...params)`;
// it may return a cleanup function that runs when the page is left, or an object
// `{cleanup, update}` whose `update(query)` is called instead of a new render when only the
// query of the same path changes (filters, pages), so the page keeps its focus and state.

import { api, setCsrf, onUnauthorized, isAbort } from './api.js';
import { h, replace, toast, svg, ago } from './dom.js';
import { isManager } from './ui.js';

const main = document.getElementById('main');
const top = document.getElementById('top');

const NOTIFICATIONS = '/api/v1/notifications/notification/';
const UNREAD = '/api/v1/notifications/notification/unread-count/';

/** Shared with every page. */
const ctx = {
  session: null,
  /** Receives 'status', 'notification' and 'resync' events pushed by the server. */
  live: new EventTarget(),
  navigate(path) {
    if (location.hash === `#${path}`) route();
    else location.hash = path;
  },
  refreshSession: loadSession,
  /** Re-reads the unread count (pages call it after marking notifications read). */
  refreshBell: () => bell.refresh(),
  /** An organization's name from the session, or its id when unknown. */
  orgName(id) {
    const o = (ctx.session?.organizations || []).find((x) => x.id === id);
    return o ? o.name : (id || '—');
  },
};

let current = null; // { path, cleanup, update }
let events = null;
let eventsFailed = false;

async function loadSession() {
  try {
    const s = await api('/api/v1/ui/session/');
    // `username: null`: nobody is logged in (the server answers 200, so nothing is logged).
    if (!s || !s.username) { ctx.session = null; return false; }
    ctx.session = s;
    setCsrf(s.csrf_token);
    return true;
  } catch {
    ctx.session = null;
    return false;
  }
}

function startLive() {
  if (events) return;
  events = new EventSource('/api/v1/ui/events/');
  for (const name of ['status', 'notification', 'resync']) {
    events.addEventListener(name, (e) => {
      let detail = {};
      try { detail = JSON.parse(e.data); } catch { /* keep {} */ }
      ctx.live.dispatchEvent(new CustomEvent(name, { detail }));
    });
  }
  events.onopen = () => {
    // Back after an interruption: whatever happened meanwhile was missed.
    if (eventsFailed) {
      eventsFailed = false;
      ctx.live.dispatchEvent(new CustomEvent('resync', { detail: {} }));
    }
  };
  events.onerror = () => {
    eventsFailed = true;
    // The browser reconnects by itself; a closed stream after logout stays closed.
    if (!ctx.session && events) { events.close(); events = null; }
  };
}

function stopLive() {
  if (events) { events.close(); events = null; }
}

// ---------------------------------------------------------------------------------------------
// The notification bell: the unread count from the server at start and on every live event,
// never by polling; a dropdown with the latest notifications.

const bell = (() => {
  let count = 0;
  let open = false;
  let seen = null; // newest unread id already toasted
  const countEl = h('span', { class: 'bell-count', 'aria-hidden': 'true', hidden: true }, '0');
  const icon = svg('svg', { viewBox: '0 0 24 24', width: 22, height: 22, 'aria-hidden': 'true', focusable: 'false', class: 'bell-icon' },
    svg('path', { d: 'M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z' }));
  const button = h('button', {
    type: 'button', class: 'bell', 'aria-label': 'Notifications, 0 unread',
    'aria-expanded': 'false', 'aria-controls': 'bell-panel', 'aria-haspopup': 'true',
    onclick: () => (open ? close() : show()),
  }, icon, countEl);
  const list = h('ul', { class: 'bell-list' });
  const status = h('p', { class: 'bell-status', role: 'status' });
  const markAll = h('button', { type: 'button', class: 'link', onclick: () => markAllRead() }, 'Mark all as read');
  const panel = h('div', { id: 'bell-panel', class: 'bell-panel', role: 'region', 'aria-label': 'Latest notifications', hidden: true },
    h('div', { class: 'bell-head' }, h('strong', {}, 'Notifications'), markAll),
    status, list,
    h('a', { href: '#/notifications', class: 'bell-all', onclick: () => close() }, 'See all notifications'));
  const el = h('div', { class: 'bell-wrap' }, button, panel);

  function setCount(n) {
    count = n;
    countEl.textContent = n > 99 ? '99+' : String(n);
    countEl.hidden = n === 0;
    button.setAttribute('aria-label', `Notifications, ${n} unread`);
    markAll.disabled = n === 0;
  }

  async function refresh() {
    try {
      const r = await api(UNREAD);
      setCount(r.count);
      if (open) await loadList();
    } catch (x) {
      if (!isAbort(x) && x.status !== 401) status.textContent = `Unread count unavailable: ${x.message}`;
    }
  }

  /** A new notification arrived: count, and a toast naming it. */
  async function arrived() {
    await refresh();
    try {
      const r = await api(NOTIFICATIONS, { query: { unread: 'true', page_size: 1 } });
      const n = r.results[0];
      if (n && n.id !== seen) {
        seen = n.id;
        toast(n.email_subject || `${n.type}: ${n.verb}`, n.level === 'warning' ? 'warning' : 'info');
      }
    } catch { /* the count above already says something is new */ }
  }

  function target(n) {
    return n.target_object_id ? `#/device/${n.target_object_id}` : '#/notifications';
  }

  async function loadList() {
    status.textContent = 'Loading…';
    try {
      const r = await api(NOTIFICATIONS, { query: { page_size: 8 } });
      status.textContent = r.results.length ? '' : 'No notifications.';
      replace(list, r.results.map((n) => h('li', { class: n.unread ? 'unread' : '' },
        h('a', { href: target(n), onclick: () => { if (n.unread) markOne(n.id); close(); } },
          h('span', { class: `lvl lvl-${n.level === 'warning' ? 'warning' : 'info'}` }, n.level === 'warning' ? 'Problem' : 'Info'),
          h('span', { class: 'bell-subject' }, n.email_subject || n.verb),
          n.unread ? h('span', { class: 'sr-only' }, ' (unread)') : null),
        h('time', { datetime: n.timestamp, title: new Date(n.timestamp).toLocaleString() }, ago(n.timestamp)))));
    } catch (x) {
      status.textContent = `Could not load notifications: ${x.message}`;
    }
  }

  async function markOne(id) {
    try {
      await api(`${NOTIFICATIONS}${id}/`, { method: 'PATCH' });
      await refresh();
    } catch (x) { toast(x.message, 'error'); }
  }

  async function markAllRead() {
    try {
      await api(`${NOTIFICATIONS}read/`, { method: 'POST', body: {} });
      await refresh();
      ctx.live.dispatchEvent(new CustomEvent('notifications-read', { detail: {} }));
    } catch (x) { toast(x.message, 'error'); }
  }

  function show() {
    open = true;
    panel.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    loadList();
  }

  function close(focus = false) {
    if (!open) return;
    open = false;
    panel.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    if (focus) button.focus();
  }

  document.addEventListener('click', (e) => { if (open && !el.contains(e.target)) close(); });
  document.addEventListener('keydown', (e) => {
    if (open && e.key === 'Escape') close(el.contains(document.activeElement) || document.activeElement === document.body);
  });
  ctx.live.addEventListener('notification', () => arrived());
  ctx.live.addEventListener('resync', () => refresh());

  return { el, refresh, close, setCount, get count() { return count; } };
})();

// ---------------------------------------------------------------------------------------------

function navItems() {
  const items = [
    ['#/', 'Dashboard'],
    ['#/devices', 'Devices'],
    ['#/notifications', 'Notifications'],
  ];
  // Viewers have only their API tokens to administer.
  if (isManager(ctx)) items.push(['#/admin', 'Administration']);
  else items.push(['#/admin/tokens', 'API tokens']);
  if (ctx.session.is_superuser) items.push(['#/system', 'System']);
  return items;
}

function renderTop() {
  const s = ctx.session;
  if (top.dataset.user === s.username && !top.hidden) return;
  top.dataset.user = s.username;
  replace(top,
    h('a', { class: 'brand', href: '#/' }, h('img', { src: '/static/img/icon.svg', alt: '' }), s.site_name || 'wispmon'),
    h('nav', { 'aria-label': 'Main' },
      h('ul', {}, navItems().map(([href, label]) => h('li', {}, h('a', { href }, label))))),
    h('div', { class: 'who' },
      bell.el,
      h('span', { class: 'username', title: 'Logged in as' }, s.username),
      h('button', { type: 'button', class: 'link', onclick: logout }, 'Log out')),
  );
  top.hidden = false;
  bell.refresh();
}

function markCurrent(path) {
  for (const a of top.querySelectorAll('nav a')) {
    const target = a.getAttribute('href').slice(1);
    let on;
    if (target === '/') on = path === '/';
    else if (target === '/devices') on = path === '/devices' || path.startsWith('/device/');
    else on = path === target || path.startsWith(`${target}/`) || (target === '/admin/tokens' && path.startsWith('/admin'));
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

async function logout() {
  try { await api('/api/v1/ui/session/', { method: 'DELETE' }); } catch { /* already gone */ }
  ctx.session = null;
  stopLive();
  bell.close();
  top.dataset.user = '';
  location.hash = '#/login';
}

function renderLogin(next) {
  top.hidden = true;
  top.dataset.user = '';
  const user = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', { class: 'login card', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    submit.disabled = true;
    try {
      await api('/api/v1/ui/session/', { method: 'POST', body: { username: user.value, password: pass.value } });
      await loadSession();
      startLive();
      location.hash = next && next !== '/login' ? next : '/';
    } catch (x) {
      err.textContent = x.message;
      pass.select();
    } finally {
      submit.disabled = false;
    }
  } },
    h('h1', {}, 'Log in to wispmon'),
    h('label', { for: 'login-username' }, 'Username'), user,
    h('label', { for: 'login-password' }, 'Password'), pass,
    err,
    submit);
  replace(main, form);
  user.focus();
}

/** Routes: pattern → (params) => module page. */
const routes = [
  [/^\/$/, () => import('./dashboard.js').then((m) => (el) => m.render(el, ctx))],
  [/^\/devices$/, () => import('./devices.js').then((m) => (el, q) => m.render(el, ctx, q))],
  [/^\/device\/([0-9a-fA-F-]+)(?:\/([a-z-]+))?$/, (id, tab) => import('./device.js').then((m) => (el, q) => m.render(el, ctx, id, tab || 'status', q))],
  [/^\/notifications$/, () => import('./notifications.js').then((m) => (el, q) => m.render(el, ctx, q))],
  [/^\/system$/, () => import('./system.js').then((m) => (el) => m.render(el, ctx))],
  [/^\/admin(?:\/([a-z-]+))?(?:\/([^/]+))?$/, (section, id) => import('./admin.js').then((m) => (el) => m.render(el, ctx, section || '', id ? decodeURIComponent(id) : id))],
];

function leave() {
  const c = current && current.cleanup;
  current = null;
  if (typeof c === 'function') { try { c(); } catch { /* page already gone */ } }
}

async function route() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  const query = new URLSearchParams(qs || '');
  bell.close();
  if (path === '/login') {
    // The login page needs no session; logging in replaces any.
    leave();
    renderLogin(query.get('next'));
    return;
  }
  if (!ctx.session && !(await loadSession())) {
    leave();
    location.hash = `/login?next=${encodeURIComponent(raw)}`;
    return;
  }
  renderTop();
  startLive();
  markCurrent(path);
  // Same page, other query: let the page update itself in place.
  if (current && current.path === path && typeof current.update === 'function') {
    current.update(query);
    return;
  }
  leave();
  for (const [re, load] of routes) {
    const m = path.match(re);
    if (!m) continue;
    const el = h('div', { class: 'page' });
    replace(main, el);
    const mine = { path, cleanup: null, update: null };
    current = mine;
    try {
      const page = await load(...m.slice(1));
      const r = await page(el, query);
      if (typeof r === 'function') mine.cleanup = r;
      else if (r && typeof r === 'object') { mine.cleanup = r.cleanup || null; mine.update = r.update || null; }
      // Left while loading: clean up at once.
      if (current !== mine && typeof mine.cleanup === 'function') mine.cleanup();
    } catch (x) {
      replace(el, h('p', { class: 'error', role: 'alert' }, `This page could not be shown: ${x.message}`));
    }
    if (current === mine) main.focus({ preventScroll: true });
    return;
  }
  replace(main, h('div', { class: 'page' }, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the dashboard'))));
}

onUnauthorized(() => {
  // Only a session that existed can end; a first visit without one just goes to the login.
  if (ctx.session && !location.hash.startsWith('#/login')) {
    ctx.session = null;
    stopLive();
    top.dataset.user = '';
    toast('Your session has ended; please log in again.', 'error');
    location.hash = `/login?next=${encodeURIComponent(location.hash.replace(/^#/, ''))}`;
  }
});

// The skip link must not change the address: the part after `#` is the route.
document.querySelector('.skip-link')?.addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', route);
route();
