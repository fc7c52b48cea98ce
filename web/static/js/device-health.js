// The device page's "Health" tab: GET /api/v1/monitoring/device/{pk}/health/ (status,
// flapping, current silence, held alerts, status history), the maintenance windows that
// cover the device (its own, its location's, its organization's), and its parent device
// (/parent/: show, set to another device of the same organization, clear).

import { h, replace, when, ago, badge } from './dom.js';
import { api, allPages } from './api.js';
import { errorBox, table, kv, nextId } from './device-format.js';

function message(box, kind, text) {
  box.className = `form-msg ${kind}`;
  box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  box.textContent = text;
}

function devLink(id, names) {
  const name = names.get(id);
  return h('a', { href: `#/device/${encodeURIComponent(id)}` }, name || id);
}

const pad2 = (n) => String(n).padStart(2, '0');
function localInput(d) {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** Mounts the tab in `el`; returns its cleanup. */
export function mountHealth(el, ctx, device, page) {
  const base = `/api/v1/monitoring/device/${encodeURIComponent(device.id)}/`;
  const manage = page.manage;
  let disposed = false;
  const healthBox = h('div', {}, h('p', { class: 'loading' }, 'Loading health…'));
  const windowsBox = h('div', {}, h('p', { class: 'loading' }, 'Loading maintenance windows…'));
  const parentBox = h('div', {}, h('p', { class: 'loading' }, 'Loading the parent device…'));
  replace(el,
    h('section', { class: 'card', 'aria-labelledby': 'health-h' }, h('h2', { id: 'health-h' }, 'Health'), healthBox),
    h('section', { class: 'card', 'aria-labelledby': 'parent-h' }, h('h2', { id: 'parent-h' }, 'Parent device'),
      h('p', { class: 'hint' }, 'While the parent (the router this device is reached through) is down, this device’s alerts are held instead of sent.'),
      parentBox),
    h('section', { class: 'card', 'aria-labelledby': 'mw-h' }, h('h2', { id: 'mw-h' }, 'Maintenance windows'), windowsBox));

  // Names of the organization's devices, for the parent picker and links.
  const names = new Map([[device.id, device.name]]);
  let orgDevices = [];
  const devicesLoaded = allPages('/api/v1/controller/device/', { organization: device.organization }, 2000)
    .then((list) => {
      orgDevices = list;
      for (const d of list) names.set(d.id, d.name);
    })
    .catch(() => { /* links fall back to ids */ });

  let metricNames = new Map();
  const metricsLoaded = api(`${base}metric/`)
    .then((ms) => { metricNames = new Map((Array.isArray(ms) ? ms : []).map((m) => [m.id, m.name])); })
    .catch(() => {});

  async function loadHealth() {
    let hh;
    try {
      [hh] = await Promise.all([api(`${base}health/`), devicesLoaded, metricsLoaded]);
    } catch (x) {
      if (!disposed) replace(healthBox, errorBox('The health summary could not be loaded', x));
      return;
    }
    if (disposed) return;
    const silence = hh.silenced;
    let silenceText = 'no';
    if (silence && silence.reason === 'maintenance') {
      silenceText = h('span', {}, 'yes, maintenance window until ', h('time', { datetime: String(silence.until) }, when(silence.until)));
    } else if (silence && silence.reason === 'parent_down') {
      silenceText = h('span', {}, 'yes, the parent device ', devLink(silence.parent, names), ' is down');
    } else if (silence) {
      silenceText = `yes (${String(silence.reason)})`;
    }
    const changes = Array.isArray(hh.status_changes) ? hh.status_changes : [];
    const held = Array.isArray(hh.held_alerts) ? hh.held_alerts : [];
    replace(healthBox,
      kv([
        ['Status', badge(hh.status)],
        ['Flapping', hh.flapping ? h('span', { class: 'badge st-problem' }, 'flapping') : 'no'],
        ['Alerts silenced', silenceText],
      ]),
      h('h3', {}, 'Held alerts'),
      held.length
        ? table('Held alerts', ['Metric', 'Since', 'Held because'], held.map((a) => [
          metricNames.get(a.metric) || String(a.metric),
          h('time', { datetime: String(a.since) }, when(a.since)),
          a.silence && a.silence.reason === 'parent_down' ? h('span', {}, 'parent ', devLink(a.silence.parent, names), ' down')
            : a.silence && a.silence.reason === 'maintenance' ? `maintenance until ${when(a.silence.until)}` : '—',
        ]), { captionHidden: true })
        : h('p', { class: 'muted' }, 'No alerts are being held.'),
      h('h3', {}, 'Status history'),
      changes.length
        ? table('Status history', ['Time', 'From', 'To'], changes.map((c) => [
          h('time', { datetime: String(c.time), title: ago(c.time) }, when(c.time)), badge(c.from), badge(c.to),
        ]), { captionHidden: true })
        : h('p', { class: 'muted' }, 'No status changes recorded.'));
  }

  // Parent -------------------------------------------------------------------------------
  async function loadParent() {
    let p;
    try {
      [p] = await Promise.all([api(`${base}parent/`), devicesLoaded]);
    } catch (x) {
      if (!disposed) replace(parentBox, errorBox('The parent device could not be loaded', x));
      return;
    }
    if (disposed) return;
    const children = Array.isArray(p.children) ? p.children : [];
    const msg = h('p', { class: 'form-msg' });
    const id = nextId('parent');
    const choices = orgDevices.filter((d) => d.id !== device.id && !children.includes(d.id));
    const select = h('select', { id: `${id}-sel`, disabled: !manage },
      h('option', { value: '' }, '— none —'),
      choices.map((d) => h('option', { value: d.id, selected: d.id === p.parent }, String(d.name))));
    const form = manage ? h('form', { class: 'parent-form', onsubmit: async (e) => {
      e.preventDefault();
      message(msg, 'pending', 'Saving…');
      try {
        if (select.value) await api(`${base}parent/`, { method: 'PUT', body: { parent: select.value } });
        else await api(`${base}parent/`, { method: 'DELETE' });
        await loadParent();
        loadHealth();
      } catch (x) {
        message(msg, 'error', `Not saved: ${x.message}`);
      }
    } },
    h('div', { class: 'form-row' }, h('div', { class: 'field' }, h('label', { for: `${id}-sel` }, 'Choose a parent'), select)),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Set parent'),
      p.parent ? h('button', { type: 'button', onclick: async () => {
        message(msg, 'pending', 'Clearing…');
        try {
          await api(`${base}parent/`, { method: 'DELETE' });
          await loadParent();
          loadHealth();
        } catch (x) {
          message(msg, 'error', `Not cleared: ${x.message}`);
        }
      } }, 'Clear parent') : null),
    msg) : null;
    replace(parentBox,
      kv([
        ['Parent', p.parent ? devLink(p.parent, names) : 'none'],
        ['Children', children.length ? h('span', { class: 'members' }, children.map((c) => devLink(c, names))) : 'none'],
      ]),
      form);
  }

  // Maintenance windows ------------------------------------------------------------------
  async function loadWindows() {
    let windows;
    let place = null;
    try {
      [windows, place] = await Promise.all([
        allPages('/api/v1/monitoring/maintenance-window/', {}, 2000),
        api(`/api/v1/controller/device/${encodeURIComponent(device.id)}/location/`).catch(() => null),
      ]);
    } catch (x) {
      if (!disposed) replace(windowsBox, errorBox('The maintenance windows could not be loaded', x));
      return;
    }
    if (disposed) return;
    const locId = place && place.location ? place.location.id : null;
    const relevant = windows.filter((w) => (w.scope === 'device' && w.object_id === device.id)
      || (w.scope === 'location' && locId && w.object_id === locId)
      || (w.scope === 'organization' && w.organization === device.organization));
    const now = Date.now();
    const shown = relevant.filter((w) => new Date(w.end).getTime() >= now - 7 * 86400000)
      .sort((a, b) => String(a.start).localeCompare(String(b.start)));
    const scopeText = (w) => (w.scope === 'device' ? 'this device' : w.scope === 'location' ? `location ${place.location.name ?? ''}` : 'whole organization');
    const rows = shown.map((w) => {
      const msg = h('span', { class: 'form-msg' });
      const del = manage && w.scope === 'device' ? h('button', { type: 'button', class: 'danger', onclick: async () => {
        if (!window.confirm('Delete this maintenance window?')) return;
        try {
          await api(`/api/v1/monitoring/maintenance-window/${encodeURIComponent(w.id)}/`, { method: 'DELETE' });
          loadWindows();
          loadHealth();
        } catch (x) {
          message(msg, 'error', `Not deleted: ${x.message}`);
        }
      } }, 'Delete') : null;
      return [scopeText(w), h('time', { datetime: String(w.start) }, when(w.start)), h('time', { datetime: String(w.end) }, when(w.end)),
        w.is_open ? h('span', { class: 'badge st-problem' }, 'in progress') : new Date(w.start).getTime() > now ? 'scheduled' : 'ended',
        w.reason ? String(w.reason) : '—', h('span', {}, del, msg)];
    });
    replace(windowsBox,
      rows.length
        ? table('Maintenance windows', ['Covers', 'Start', 'End', 'State', 'Reason', ''], rows, { captionHidden: true })
        : h('p', { class: 'muted' }, 'No current or upcoming maintenance windows cover this device.'),
      manage ? windowForm() : null);
  }

  function windowForm() {
    const id = nextId('mw');
    const now = new Date();
    const start = h('input', { id: `${id}-start`, type: 'datetime-local', required: true, value: localInput(now) });
    const end = h('input', { id: `${id}-end`, type: 'datetime-local', required: true, value: localInput(new Date(now.getTime() + 3600000)) });
    const reason = h('input', { id: `${id}-reason`, type: 'text', maxlength: '200' });
    const msg = h('p', { class: 'form-msg' });
    return h('form', { class: 'mw-form', 'aria-labelledby': `${id}-h`, onsubmit: async (e) => {
      e.preventDefault();
      const a = new Date(start.value);
      const b = new Date(end.value);
      if (Number.isNaN(a.getTime()) || Number.isNaN(b.getTime()) || b <= a) { message(msg, 'error', 'The end must be after the start.'); return; }
      message(msg, 'pending', 'Saving…');
      try {
        await api('/api/v1/monitoring/maintenance-window/', { method: 'POST', body: {
          organization: device.organization, scope: 'device', object_id: device.id,
          start: a.toISOString(), end: b.toISOString(), reason: reason.value,
        } });
        loadWindows();
        loadHealth();
      } catch (x) {
        message(msg, 'error', `Not saved: ${x.message}`);
      }
    } },
    h('h3', { id: `${id}-h` }, 'Schedule maintenance for this device'),
    h('div', { class: 'form-row' },
      h('div', { class: 'field' }, h('label', { for: `${id}-start` }, 'Start'), start),
      h('div', { class: 'field' }, h('label', { for: `${id}-end` }, 'End'), end),
      h('div', { class: 'field field-wide' }, h('label', { for: `${id}-reason` }, 'Reason'), reason)),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add window')),
    msg);
  }

  loadHealth();
  loadParent();
  loadWindows();
  const onStatus = (e) => { if (e.detail && e.detail.device === device.id) loadHealth(); };
  ctx.live.addEventListener('status', onStatus);
  return () => { disposed = true; ctx.live.removeEventListener('status', onStatus); };
}
