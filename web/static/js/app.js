// The application: session, top bar, routing (after `#`), and live updates from the server.
// Each page is a module exporting `render(main, ctx, ...params)`; it may return a cleanup
// function that runs when the page is left.

import { api, setCsrf, onUnauthorized } from './api.js';
import { h, replace, toast } from './dom.js';

const main = document.getElementById('main');
const top = document.getElementById('top');

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
};

let cleanup = null;
let events = null;

async function loadSession() {
  try {
    ctx.session = await api('/api/v1/ui/session/');
    setCsrf(ctx.session.csrf_token);
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
  events.onerror = () => {
    // The browser reconnects by itself; a closed stream after logout stays closed.
    if (!ctx.session && events) { events.close(); events = null; }
  };
}

function stopLive() {
  if (events) { events.close(); events = null; }
}

function renderTop() {
  const s = ctx.session;
  const nav = [
    ['#/', 'Dashboard'],
    ['#/devices', 'Devices'],
    ['#/notifications', 'Notifications'],
    ['#/admin', 'Administration'],
  ];
  replace(top,
    h('a', { class: 'brand', href: '#/' }, h('img', { src: '/static/img/icon.svg', alt: '' }), s.site_name || 'wispmon'),
    h('nav', { 'aria-label': 'Main' },
      h('ul', {}, nav.map(([href, label]) => h('li', {}, h('a', { href }, label))))),
    h('div', { class: 'who' },
      h('span', {}, s.username),
      h('button', { type: 'button', class: 'link', onclick: logout }, 'Log out')),
  );
  top.hidden = false;
}

async function logout() {
  try { await api('/api/v1/ui/session/', { method: 'DELETE' }); } catch { /* already gone */ }
  ctx.session = null;
  stopLive();
  location.hash = '#/login';
}

function renderLogin(next) {
  top.hidden = true;
  const user = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'login card', onsubmit: async (e) => {
    e.preventDefault();
    err.textContent = '';
    try {
      await api('/api/v1/ui/session/', { method: 'POST', body: { username: user.value, password: pass.value } });
      await loadSession();
      startLive();
      location.hash = next && next !== '/login' ? next : '/';
    } catch (x) {
      err.textContent = x.message;
      pass.select();
    }
  } },
    h('h1', {}, 'Log in to wispmon'),
    h('label', { for: 'login-username' }, 'Username'), user,
    h('label', { for: 'login-password' }, 'Password'), pass,
    err,
    h('button', { type: 'submit', class: 'primary' }, 'Log in'));
  replace(main, form);
  user.focus();
}

/** Routes: pattern → (params) => module page. */
const routes = [
  [/^\/$/, () => import('./dashboard.js').then((m) => (el) => m.render(el, ctx))],
  [/^\/devices$/, () => import('./devices.js').then((m) => (el, q) => m.render(el, ctx, q))],
  [/^\/device\/([0-9a-fA-F-]+)(?:\/([a-z-]+))?$/, (id, tab) => import('./device.js').then((m) => (el, q) => m.render(el, ctx, id, tab || 'status', q))],
  [/^\/notifications$/, () => import('./notifications.js').then((m) => (el) => m.render(el, ctx))],
  [/^\/admin(?:\/([a-z-]+))?(?:\/([^/]+))?$/, (section, id) => import('./admin.js').then((m) => (el) => m.render(el, ctx, section || '', id))],
];

async function route() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  const query = new URLSearchParams(qs || '');
  if (typeof cleanup === 'function') { try { cleanup(); } catch { /* page already gone */ } }
  cleanup = null;
  if (path === '/login') {
    if (await loadSession()) { location.hash = query.get('next') || '/'; return; }
    renderLogin(query.get('next'));
    return;
  }
  if (!ctx.session && !(await loadSession())) {
    location.hash = `/login?next=${encodeURIComponent(raw)}`;
    return;
  }
  renderTop();
  startLive();
  for (const a of top.querySelectorAll('nav a')) {
    const target = a.getAttribute('href').slice(1);
    const current = target === '/' ? path === '/' : path.startsWith(target);
    if (current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  for (const [re, load] of routes) {
    const m = path.match(re);
    if (!m) continue;
    const el = h('div', { class: 'page' });
    replace(main, el);
    try {
      const page = await load(...m.slice(1));
      cleanup = await page(el, query);
    } catch (x) {
      replace(el, h('p', { class: 'error', role: 'alert' }, `This page could not be shown: ${x.message}`));
    }
    main.focus({ preventScroll: true });
    return;
  }
  replace(main, h('div', { class: 'page' }, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the dashboard'))));
}

onUnauthorized(() => {
  if (!location.hash.startsWith('#/login')) {
    ctx.session = null;
    stopLive();
    toast('Your session has ended; please log in again.', 'error');
    location.hash = `/login?next=${encodeURIComponent(location.hash.replace(/^#/, ''))}`;
  }
});

window.addEventListener('hashchange', route);
route();
