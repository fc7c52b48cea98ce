// The device page's "Alerts & checks" tab: the device's metrics with their health, an alert
// settings form per metric that has them (operator, threshold, tolerance, active), and the
// device's checks (type, active, ping parameters, create, delete). Organization viewers see
// everything read-only; the server enforces the same rule.

import { h, replace } from './dom.js';
import { api } from './api.js';
import { errorBox, nextId, table } from './device-format.js';

const CHECK_TYPES = [
  ['Ping', 'Ping'],
  ['ConfigApplied', 'Configuration Applied'],
  ['DataCollected', 'Monitoring Data Collected'],
  ['WifiClients', 'WiFi Clients'],
  ['Iperf3', 'Iperf3'],
];

/** The metric keys a check type produces (for its latest result). */
const CHECK_METRICS = {
  ping: ['ping'],
  configapplied: ['config_applied'],
  datacollected: ['data_collected'],
  wificlients: ['wifi_clients_max', 'wifi_clients_min'],
  iperf3: ['iperf3'],
};

const PING_PARAMS = [
  ['count', 'Count', 'pings', 5, 2, 20],
  ['interval', 'Interval', 'ms between pings', 25, 10, 1000],
  ['bytes', 'Payload size', 'bytes', 56, 12, 65508],
  ['timeout', 'Timeout', 'ms', 800, 5, 1500],
];

/** Metric units for the threshold field. */
const UNITS = { cpu: '%', memory: '%', disk: '%', ping: '(1 = reachable)', config_applied: '(1 = applied)', data_collected: '(1 = collected)', wifi_clients_max: 'clients', wifi_clients_min: 'clients' };

function checkTypeKey(path) {
  return String(path || '').split('.').pop();
}

function checkTypeLabel(path) {
  const k = checkTypeKey(path);
  const t = CHECK_TYPES.find(([key]) => key.toLowerCase() === k.toLowerCase());
  return t ? t[1] : k;
}

function health(v) {
  if (v === true) return h('span', { class: 'badge st-ok' }, 'healthy');
  if (v === false) return h('span', { class: 'badge st-critical' }, 'unhealthy');
  return h('span', { class: 'badge st-unknown' }, 'no data');
}

function message(box, kind, textContent) {
  box.className = `form-msg ${kind}`;
  box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  box.textContent = textContent;
}

/** Mounts the tab in `el`; returns its cleanup. */
export function mountAlerts(el, ctx, device, page) {
  const base = `/api/v1/monitoring/device/${encodeURIComponent(device.id)}/`;
  const manage = page.manage;
  let disposed = false;
  const metricsBox = h('div', {}, h('p', { class: 'loading' }, 'Loading metrics…'));
  const checksBox = h('div', {}, h('p', { class: 'loading' }, 'Loading checks…'));
  replace(el,
    manage ? null : h('p', { class: 'dev-note' }, 'You can view these settings; only administrators of this organization can change them.'),
    h('section', { class: 'card', 'aria-labelledby': 'alerts-metrics-h' }, h('h2', { id: 'alerts-metrics-h' }, 'Metrics and alert settings'), metricsBox),
    h('section', { class: 'card', 'aria-labelledby': 'alerts-checks-h' }, h('h2', { id: 'alerts-checks-h' }, 'Checks'), checksBox));

  let metrics = [];

  async function loadMetrics() {
    try {
      metrics = await api(`${base}metric/`);
    } catch (x) {
      if (!disposed) replace(metricsBox, errorBox('The metrics could not be loaded', x));
      return;
    }
    if (disposed) return;
    metrics = Array.isArray(metrics) ? metrics : [];
    if (!metrics.length) {
      replace(metricsBox, h('p', { class: 'dev-note' }, 'This device has no metrics yet.'));
      return;
    }
    const withAlerts = metrics.filter((m) => m.alert_settings);
    replace(metricsBox,
      table('Metrics', ['Metric', 'Health', 'Health (with tolerance)', 'Alerts'],
        metrics.map((m) => [String(m.name ?? ''), health(m.is_healthy), health(m.is_healthy_tolerant),
          m.alert_settings ? (m.alert_settings.is_active ? 'enabled' : 'disabled') : 'none']), { captionHidden: true }),
      withAlerts.length ? h('div', { class: 'alert-forms' }, withAlerts.map(alertForm)) : null);
  }

  function alertForm(m) {
    const a = m.alert_settings;
    const id = nextId('alert');
    const unit = UNITS[m.key] || '';
    const op = h('select', { id: `${id}-op`, name: 'operator', disabled: !manage },
      h('option', { value: '<', selected: a.operator === '<' }, 'less than (<)'),
      h('option', { value: '>', selected: a.operator === '>' }, 'greater than (>)'));
    const threshold = h('input', { id: `${id}-th`, name: 'threshold', type: 'number', step: 'any', required: true, value: String(a.threshold ?? ''), disabled: !manage, 'aria-describedby': `${id}-th-hint` });
    const tolerance = h('input', { id: `${id}-tol`, name: 'tolerance', type: 'number', min: '0', max: '10080', step: '1', required: true, value: String(a.tolerance ?? 0), disabled: !manage, 'aria-describedby': `${id}-tol-hint` });
    const active = h('input', { id: `${id}-on`, name: 'is_active', type: 'checkbox', checked: Boolean(a.is_active), disabled: !manage });
    const msg = h('p', { class: 'form-msg' });
    const custom = (k) => (a[`custom_${k}`] === null || a[`custom_${k}`] === undefined ? 'default' : 'custom');
    const form = h('form', { class: 'alert-form', novalidate: true, 'aria-labelledby': `${id}-h`, dataset: { metric: m.key || '' }, oninput: () => message(msg, '', ''), onsubmit: async (e) => {
      e.preventDefault();
      if (!manage) return;
      const th = Number(threshold.value);
      const tol = Number(tolerance.value);
      if (threshold.value.trim() === '' || !Number.isFinite(th)) { message(msg, 'error', 'Enter a number for the threshold.'); threshold.focus(); return; }
      if (!Number.isInteger(tol) || tol < 0 || tol > 10080) { message(msg, 'error', 'The tolerance must be a whole number of minutes from 0 to 10080.'); tolerance.focus(); return; }
      save.disabled = true;
      message(msg, 'pending', 'Saving…');
      try {
        const r = await api(`${base}metric/${encodeURIComponent(m.id)}/alert-settings/`, {
          method: 'PATCH',
          body: { is_active: active.checked, custom_operator: op.value, custom_threshold: th, custom_tolerance: tol },
        });
        m.alert_settings = r;
        Object.assign(a, r);
        threshold.value = String(r.threshold);
        tolerance.value = String(r.tolerance);
        op.value = r.operator;
        active.checked = Boolean(r.is_active);
        thHint.textContent = custom('threshold');
        tolHint.textContent = `minutes · ${custom('tolerance')}`;
        message(msg, 'ok', `Saved at ${new Date().toLocaleTimeString()}.`);
      } catch (x) {
        message(msg, 'error', `Not saved: ${x.message}`);
      } finally {
        save.disabled = false;
      }
    } });
    const thHint = h('span', { id: `${id}-th-hint`, class: 'hint' }, custom('threshold'));
    const tolHint = h('span', { id: `${id}-tol-hint`, class: 'hint' }, `minutes · ${custom('tolerance')}`);
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save');
    const reset = h('button', { type: 'button', onclick: async () => {
      reset.disabled = true;
      message(msg, 'pending', 'Restoring the defaults…');
      try {
        const r = await api(`${base}metric/${encodeURIComponent(m.id)}/alert-settings/`, {
          method: 'PATCH', body: { custom_operator: null, custom_threshold: null, custom_tolerance: null },
        });
        Object.assign(a, r);
        op.value = r.operator;
        threshold.value = String(r.threshold);
        tolerance.value = String(r.tolerance);
        thHint.textContent = custom('threshold');
        tolHint.textContent = `minutes · ${custom('tolerance')}`;
        message(msg, 'ok', 'Defaults restored.');
      } catch (x) {
        message(msg, 'error', `Not restored: ${x.message}`);
      } finally {
        reset.disabled = false;
      }
    } }, 'Use defaults');
    append(form,
      h('h3', { id: `${id}-h` }, String(m.name ?? ''), ' ', health(m.is_healthy)),
      h('div', { class: 'form-row' },
        h('div', { class: 'field' }, h('label', { for: `${id}-op` }, 'Operator'), op),
        h('div', { class: 'field' }, h('label', { for: `${id}-th` }, 'Threshold'), h('span', { class: 'with-unit' }, threshold, unit ? h('span', { class: 'unit' }, unit) : null), thHint),
        h('div', { class: 'field' }, h('label', { for: `${id}-tol` }, 'Tolerance'), tolerance, tolHint),
        h('div', { class: 'field field-check' }, active, h('label', { for: `${id}-on` }, 'Alerts active'))),
      manage ? h('div', { class: 'form-actions' }, save, reset) : null,
      msg);
    return form;
  }

  // Checks -------------------------------------------------------------------------------
  async function loadChecks() {
    let checks;
    try {
      checks = await api(`${base}check/`);
    } catch (x) {
      if (!disposed) replace(checksBox, errorBox('The checks could not be loaded', x));
      return;
    }
    if (disposed) return;
    checks = Array.isArray(checks) ? checks : [];
    replace(checksBox,
      checks.length ? h('div', { class: 'dev-checks' }, checks.map(checkItem)) : h('p', { class: 'dev-note' }, 'This device has no checks.'),
      manage ? createForm(checks) : null);
  }

  function lastResult(c) {
    const keys = CHECK_METRICS[checkTypeKey(c.check_type).toLowerCase()] || [];
    const ms = metrics.filter((m) => keys.includes(m.key));
    if (!ms.length) return h('span', { class: 'muted' }, 'no result yet');
    return h('span', {}, ms.map((m, i) => [i ? ', ' : '', `${m.name}: `, health(m.is_healthy)]));
  }

  function checkItem(c) {
    const id = nextId('check');
    const msg = h('p', { class: 'form-msg' });
    const typeKey = checkTypeKey(c.check_type).toLowerCase();
    const toggle = h('input', { type: 'checkbox', id: `${id}-on`, checked: Boolean(c.is_active), disabled: !manage, onchange: async () => {
      toggle.disabled = true;
      message(msg, 'pending', 'Saving…');
      try {
        const r = await api(`${base}check/${encodeURIComponent(c.id)}/`, { method: 'PATCH', body: { is_active: toggle.checked } });
        c.is_active = r.is_active;
        message(msg, 'ok', r.is_active ? 'Check activated.' : 'Check deactivated.');
      } catch (x) {
        toggle.checked = Boolean(c.is_active);
        message(msg, 'error', `Not saved: ${x.message}`);
      } finally {
        toggle.disabled = !manage;
      }
    } });
    const params = c.params && typeof c.params === 'object' ? c.params : {};
    let paramsForm = null;
    if (typeKey === 'ping') {
      const inputs = PING_PARAMS.map(([k, label, unit, def, min, max]) => [k, h('input', {
        id: `${id}-${k}`, type: 'number', min: String(min), max: String(max), step: '1',
        value: params[k] === undefined ? '' : String(params[k]), placeholder: String(def), disabled: !manage,
      }), label, unit, min, max]);
      paramsForm = h('form', { class: 'dev-check-params', novalidate: true, 'aria-label': `Parameters of ${c.name}`, oninput: () => message(msg, '', ''), onsubmit: async (e) => {
        e.preventDefault();
        const body = {};
        for (const [k, input, label, , min, max] of inputs) {
          if (input.value.trim() === '') continue;
          const v = Number(input.value);
          if (!Number.isInteger(v) || v < min || v > max) { message(msg, 'error', `${label} must be a whole number from ${min} to ${max}.`); input.focus(); return; }
          body[k] = v;
        }
        message(msg, 'pending', 'Saving…');
        try {
          const r = await api(`${base}check/${encodeURIComponent(c.id)}/`, { method: 'PATCH', body: { params: body } });
          c.params = r.params;
          message(msg, 'ok', 'Parameters saved.');
        } catch (x) {
          message(msg, 'error', `Not saved: ${x.message}`);
        }
      } },
      h('fieldset', {}, h('legend', {}, 'Ping parameters (empty = default)'),
        h('div', { class: 'form-row' }, inputs.map(([k, input, label, unit]) => h('div', { class: 'field' },
          h('label', { for: `${id}-${k}` }, label), h('span', { class: 'with-unit' }, input, h('span', { class: 'unit' }, unit))))),
        manage ? h('div', { class: 'form-actions' }, h('button', { type: 'submit' }, 'Save parameters')) : null));
    }
    const del = manage ? h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (!window.confirm(`Delete the check “${c.name}”?`)) return;
      del.disabled = true;
      try {
        await api(`${base}check/${encodeURIComponent(c.id)}/`, { method: 'DELETE' });
        loadChecks();
      } catch (x) {
        del.disabled = false;
        message(msg, 'error', `Not deleted: ${x.message}`);
      }
    } }, 'Delete', h('span', { class: 'visually-hidden' }, ` check ${c.name}`)) : null;
    return h('article', { class: 'dev-check', 'aria-labelledby': `${id}-h` },
      h('div', { class: 'dev-check-head' },
        h('h3', { id: `${id}-h` }, String(c.name ?? '')),
        checkTypeLabel(c.check_type) !== String(c.name) ? h('span', { class: 'dev-check-type' }, `type: ${checkTypeLabel(c.check_type)}`) : null,
        h('span', { class: 'field-check' }, toggle, h('label', { for: `${id}-on` }, 'Active')),
        del),
      c.description ? h('p', { class: 'muted' }, String(c.description)) : null,
      h('p', { class: 'dev-check-result' }, 'Latest result: ', lastResult(c)),
      paramsForm, msg);
  }

  function createForm(checks) {
    const id = nextId('newcheck');
    const type = h('select', { id: `${id}-type`, required: true },
      CHECK_TYPES.map(([k, label]) => h('option', { value: k }, label)));
    const name = h('input', { id: `${id}-name`, type: 'text', maxlength: '64', placeholder: 'default: the type name' });
    const msg = h('p', { class: 'form-msg' });
    return h('form', { class: 'dev-check-create', 'aria-labelledby': `${id}-h`, onsubmit: async (e) => {
      e.preventDefault();
      message(msg, 'pending', 'Adding…');
      const body = { check_type: type.value, is_active: true };
      if (name.value.trim()) body.name = name.value.trim();
      try {
        await api(`${base}check/`, { method: 'POST', body });
        loadChecks();
      } catch (x) {
        message(msg, 'error', `Not added: ${x.message}`);
      }
    } },
    h('h3', { id: `${id}-h` }, 'Add a check'),
    h('div', { class: 'form-row' },
      h('div', { class: 'field' }, h('label', { for: `${id}-type` }, 'Check type'), type),
      h('div', { class: 'field' }, h('label', { for: `${id}-name` }, 'Name (optional)'), name)),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add check')),
    msg);
  }

  loadMetrics().then(loadChecks);
  return () => { disposed = true; };
}

function append(el, ...children) {
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}
