// Administration: organizations (registration secret and switch included), users and their
// organization roles, maintenance windows, and one's own API tokens and password. What is shown
// follows the session's roles; the server decides in the end (a refusal shows as a message).

import { api, allPages } from './api.js';
import { h, replace, toast, when, ago, num } from './dom.js';
import { uid, field, select, errorBox, copyButton, busy, isManager, managedOrgs } from './ui.js';

const ORGS = '/api/v1/users/organization/';
const USERS = '/api/v1/users/user/';
const WINDOWS = '/api/v1/monitoring/maintenance-window/';
const TOKENS = '/api/v1/ui/token/';
const LOCATIONS = '/api/v1/geo/location/';
const DEVICES = '/api/v1/monitoring/device/';

const SECTIONS = [
  ['organizations', 'Organizations', true],
  ['users', 'Users', true],
  ['maintenance', 'Maintenance windows', true],
  ['tokens', 'API tokens', false],
];

export async function render(el, ctx, section, id) {
  const manager = isManager(ctx);
  const allowed = SECTIONS.filter(([, , managersOnly]) => manager || !managersOnly);
  if (!allowed.some(([k]) => k === section)) {
    location.replace(`#/admin/${allowed[0][0]}`);
    return undefined;
  }
  const body = h('div', { class: 'admin-body' });
  replace(el,
    h('h1', {}, manager ? 'Administration' : 'API tokens'),
    h('div', { class: manager ? 'admin' : '' },
      manager ? h('nav', { class: 'admin-nav', 'aria-label': 'Administration' },
        h('ul', {}, allowed.map(([k, label]) => h('li', {},
          h('a', { href: `#/admin/${k}`, 'aria-current': k === section ? 'page' : null }, label))))) : null,
      body));
  try {
    if (section === 'organizations') await (id ? organization(body, ctx, id) : organizations(body, ctx));
    else if (section === 'users') await (id ? user(body, ctx, id) : users(body, ctx));
    else if (section === 'maintenance') await maintenance(body, ctx);
    else await tokens(body, ctx);
  } catch (x) {
    replace(body, errorBox(x, 'This section could not be loaded'));
  }
  return undefined;
}

function yesNo(v) {
  return v ? 'yes' : 'no';
}

function section(title, ...children) {
  const hid = uid('h');
  return h('section', { class: 'card', 'aria-labelledby': hid }, h('h2', { id: hid }, title), children);
}

function table(headers, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data' },
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows)));
}

/** A random registration secret (printable ASCII, 32 hex characters). */
function randomSecret() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

// ---- organizations ------------------------------------------------------------------------

async function organizations(el, ctx) {
  const list = await allPages(ORGS, {}, 5000);
  const rows = list.map((o) => h('tr', {},
    h('th', { scope: 'row' }, h('a', { href: `#/admin/organizations/${o.id}` }, o.name)),
    h('td', { class: 'mono' }, o.slug),
    h('td', {}, yesNo(o.is_active)),
    h('td', {}, yesNo(o.registration_enabled)),
    h('td', { class: 'nowrap' }, when(o.created))));
  const parts = [section(`Organizations (${num(list.length)})`,
    table(['Name', 'Slug', 'Active', 'Device registration', 'Created'], rows, 'No organizations.'))];
  if (ctx.session.is_superuser) {
    const name = h('input', { required: true, maxlength: 64, autocomplete: 'off' });
    const slug = h('input', { maxlength: 64, pattern: '[A-Za-z0-9_\\-]+', autocomplete: 'off' });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Create organization');
    parts.push(section('New organization', h('form', { class: 'form', onsubmit: (e) => {
      e.preventDefault();
      busy(submit, async () => {
        const o = await api(ORGS, { method: 'POST', body: { name: name.value.trim(), slug: slug.value.trim() || undefined } });
        toast(`Organization ${o.name} created.`);
        await ctx.refreshSession();
        location.hash = `/admin/organizations/${o.id}`;
      });
    } },
      h('div', { class: 'row' }, field('Name', name), field('Slug', slug, { hint: 'Optional; derived from the name.' })),
      h('div', { class: 'actions' }, submit))));
  }
  replace(el, parts);
}

async function organization(el, ctx, id) {
  const o = await api(`${ORGS}${id}/`);
  const canEdit = ctx.session.is_superuser || (ctx.session.organizations || []).some((x) => x.id === id && x.role === 'admin');
  const name = h('input', { required: true, maxlength: 64, value: o.name, disabled: !canEdit });
  const slug = h('input', { maxlength: 64, value: o.slug, pattern: '[A-Za-z0-9_\\-]+', disabled: !canEdit });
  const active = h('input', { type: 'checkbox', checked: o.is_active, disabled: !canEdit });
  const description = h('textarea', { rows: 2, disabled: !canEdit }, o.description || '');
  const email = h('input', { type: 'email', value: o.email || '', disabled: !canEdit });
  const url = h('input', { type: 'url', value: o.url || '', disabled: !canEdit });
  const registration = h('input', { type: 'checkbox', checked: o.registration_enabled, disabled: !canEdit });
  const hasSecret = typeof o.shared_secret === 'string';
  const secret = h('input', { type: 'password', value: o.shared_secret || '', minlength: 8, maxlength: 64, autocomplete: 'off', spellcheck: 'false', disabled: !canEdit, class: 'mono' });
  const reveal = h('button', { type: 'button', 'aria-pressed': 'false', onclick: () => {
    const show = secret.type === 'password';
    secret.type = show ? 'text' : 'password';
    reveal.textContent = show ? 'Hide' : 'Show';
    reveal.setAttribute('aria-pressed', String(show));
  } }, 'Show');
  const submit = h('button', { type: 'submit', class: 'primary', disabled: !canEdit }, 'Save changes');
  const checkline = (input, label) => {
    input.id = uid('c');
    return h('div', { class: 'checkline' }, input, h('label', { for: input.id }, label));
  };
  const form = h('form', { class: 'form', onsubmit: (e) => {
    e.preventDefault();
    busy(submit, async () => {
      const changes = {
        name: name.value.trim(), slug: slug.value.trim(), is_active: active.checked,
        description: description.value, email: email.value.trim(), url: url.value.trim(),
        registration_enabled: registration.checked,
      };
      if (hasSecret && secret.value !== o.shared_secret) changes.shared_secret = secret.value;
      for (const k of Object.keys(changes)) if (changes[k] === o[k]) delete changes[k];
      if (!Object.keys(changes).length) { toast('Nothing to save.'); return; }
      const saved = await api(`${ORGS}${id}/`, { method: 'PATCH', body: changes });
      Object.assign(o, saved);
      toast('Organization saved.');
      await ctx.refreshSession();
    });
  } },
    h('div', { class: 'row' }, field('Name', name), field('Slug', slug)),
    checkline(active, 'Active (devices of an inactive organization are refused and shown as unknown)'),
    field('Description', description),
    h('div', { class: 'row' }, field('Contact e-mail', email), field('Website', url)),
    h('fieldset', {},
      h('legend', {}, 'Device registration'),
      checkline(registration, 'Routers may register themselves with the shared secret'),
      hasSecret
        ? h('div', { class: 'field' }, h('label', { for: (secret.id = uid('secret')) }, 'Shared secret'),
          h('div', { class: 'secret' }, secret, reveal, copyButton(() => secret.value),
            canEdit ? h('button', { type: 'button', onclick: () => {
              secret.value = randomSecret();
              secret.type = 'text';
              reveal.textContent = 'Hide';
              reveal.setAttribute('aria-pressed', 'true');
              toast('New secret generated; save to use it. Routers with the old one can no longer register.');
            } }, 'Generate new') : null),
          h('small', { class: 'hint' }, 'The registration key routers are configured with (8 to 64 printable characters).'))
        : h('p', { class: 'muted' }, 'Only the administrators of this organization see its shared secret.')),
    h('div', { class: 'actions' }, submit,
      ctx.session.is_superuser ? h('button', { type: 'button', class: 'danger', onclick: (e) => {
        const typed = prompt(`Deleting "${o.name}" deletes its devices, locations and data. Type the organization's name to confirm.`);
        if (typed === null) return;
        if (typed !== o.name) { toast('The name did not match; nothing was deleted.', 'error'); return; }
        busy(e.currentTarget, async () => {
          await api(`${ORGS}${id}/`, { method: 'DELETE' });
          toast(`Organization ${o.name} deleted.`);
          await ctx.refreshSession();
          location.hash = '/admin/organizations';
        });
      } }, 'Delete organization') : null));
  const archive = await api(`${ORGS}${id}/config-archive/`);
  const files = archive.entries.filter((e) => e.type === 'file');
  replace(el,
    h('p', {}, h('a', { href: '#/admin/organizations' }, '← All organizations')),
    section(o.name, form, h('p', { class: 'muted small' }, `Created ${when(o.created)}, changed ${ago(o.modified)}.`)),
    section('Configuration archive',
      h('p', {}, archive.custom
        ? 'The routers of this organization apply this archive, uploaded by its administrators.'
        : 'The routers of this organization get wispmon\'s built-in archive: one inert file, so applying it changes nothing.'),
      table(['File', 'Size', 'Applied as'], files.map((e) => h('tr', {},
        h('td', { class: 'mono' }, `/${e.path}`),
        h('td', {}, `${num(e.size)} B`),
        h('td', {}, e.uci ? 'UCI configuration (merged)' : 'file'))), 'No files.'),
      h('p', { class: 'muted small' }, 'Checksum (md5) ', h('span', { class: 'mono' }, archive.checksum),
        '. Administrators replace it with PUT (the tar.gz as the body) or restore the built-in one with DELETE on ',
        h('span', { class: 'mono' }, `${ORGS}${id}/config-archive/`), '; see the README before doing so.')));
}

// ---- users --------------------------------------------------------------------------------

function roleText(ctx, m) {
  return `${ctx.orgName(m.organization)}: ${m.is_admin ? 'administrator' : 'viewer'}`;
}

async function users(el, ctx) {
  const list = await allPages(USERS, {}, 5000);
  const rows = list.map((u) => h('tr', {},
    h('th', { scope: 'row' }, h('a', { href: `#/admin/users/${encodeURIComponent(u.username)}` }, u.username)),
    h('td', {}, u.is_superuser ? 'superuser' : (u.organization_users.length ? h('ul', { class: 'issues plain' }, u.organization_users.map((m) => h('li', {}, roleText(ctx, m)))) : h('span', { class: 'muted' }, 'no organization'))),
    h('td', {}, yesNo(u.is_active)),
    h('td', { class: 'nowrap' }, when(u.date_joined))));
  const parts = [section(`Users (${num(list.length)})`, table(['Username', 'Roles', 'Active', 'Joined'], rows, 'No users.'))];
  if (managedOrgs(ctx).length) parts.push(newUser(ctx));
  replace(el, parts);
}

function newUser(ctx) {
  const username = h('input', { required: true, maxlength: 150, pattern: '[\\w.@+\\-]+', autocomplete: 'off' });
  const password = h('input', { type: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
  const superuser = h('input', { type: 'checkbox', id: uid('su') });
  // Administrators create members of the organizations they administer.
  const roles = managedOrgs(ctx).map((o) => {
    const sel = select([['', 'no access'], ['viewer', 'viewer'], ['admin', 'administrator']]);
    return { o, sel, el: field(o.name, sel) };
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create user');
  return section('New user', h('form', { class: 'form', onsubmit: (e) => {
    e.preventDefault();
    busy(submit, async () => {
      const u = await api(USERS, { method: 'POST', body: {
        username: username.value.trim(), password: password.value, is_superuser: superuser.checked,
        organization_users: roles.filter((r) => r.sel.value).map((r) => ({ organization: r.o.id, is_admin: r.sel.value === 'admin' })),
      } });
      toast(`User ${u.username} created.`);
      location.hash = `/admin/users/${encodeURIComponent(u.username)}`;
    });
  } },
    h('div', { class: 'row' }, field('Username', username, { hint: 'Letters, digits and @ . + - _' }), field('Password', password, { hint: 'At least 8 characters.' })),
    ctx.session.is_superuser ? h('div', { class: 'checkline' }, superuser, h('label', { for: superuser.id }, 'Superuser (sees and manages everything)')) : null,
    roles.length ? h('fieldset', {}, h('legend', {}, 'Organization roles'), h('div', { class: 'roles' }, roles.map((r) => r.el))) : null,
    h('div', { class: 'actions' }, submit)));
}

async function user(el, ctx, username) {
  const u = await api(`${USERS}${encodeURIComponent(username)}/`);
  const su = ctx.session.is_superuser;
  const self = u.username === ctx.session.username;
  const active = h('input', { type: 'checkbox', id: uid('c'), checked: u.is_active, disabled: !su || self });
  const superuser = h('input', { type: 'checkbox', id: uid('c'), checked: u.is_superuser, disabled: !su || self });
  const password = h('input', { type: 'password', minlength: 8, autocomplete: 'new-password', disabled: !su && !self });
  // Roles in the organizations the caller administers (superusers: all of them).
  const managed = managedOrgs(ctx);
  const roleOf = (id) => {
    const m = u.organization_users.find((x) => x.organization === id);
    return m ? (m.is_admin ? 'admin' : 'viewer') : '';
  };
  const roles = u.is_superuser ? [] : managed.map((o) => {
    const sel = select([['', 'no access'], ['viewer', 'viewer'], ['admin', 'administrator']]);
    sel.value = roleOf(o.id);
    return { o, sel, el: field(o.name, sel) };
  });
  const submit = h('button', { type: 'submit', class: 'primary', disabled: !su && !self && !roles.length }, 'Save changes');
  const form = h('form', { class: 'form', onsubmit: (e) => {
    e.preventDefault();
    busy(submit, async () => {
      const changes = {};
      if (active.checked !== u.is_active) changes.is_active = active.checked;
      if (superuser.checked !== u.is_superuser) changes.is_superuser = superuser.checked;
      if (password.value) changes.password = password.value;
      if (roles.some((r) => r.sel.value !== roleOf(r.o.id))) {
        // Organizations the caller administers but left out are taken from the user.
        changes.organization_users = roles.filter((r) => r.sel.value)
          .map((r) => ({ organization: r.o.id, is_admin: r.sel.value === 'admin' }));
        if (su) {
          // A superuser manages every organization: keep the ones not shown in the form.
          for (const m of u.organization_users) {
            if (!roles.some((r) => r.o.id === m.organization)) changes.organization_users.push(m);
          }
        }
      }
      if (!Object.keys(changes).length) { toast('Nothing to save.'); return; }
      Object.assign(u, await api(`${USERS}${encodeURIComponent(u.username)}/`, { method: 'PATCH', body: changes }));
      password.value = '';
      toast('User saved.');
    });
  } },
    h('div', { class: 'checkline' }, active, h('label', { for: active.id }, 'Active (inactive users cannot log in; their API tokens are revoked)')),
    h('div', { class: 'checkline' }, superuser, h('label', { for: superuser.id }, 'Superuser')),
    roles.length ? h('fieldset', {}, h('legend', {}, 'Organization roles'), h('div', { class: 'roles' }, roles.map((r) => r.el))) : null,
    su || self ? field('New password', password, { hint: 'Leave empty to keep the current one.' }) : null,
    h('div', { class: 'actions' }, submit,
      su && !self ? h('button', { type: 'button', class: 'danger', onclick: (e) => {
        if (!confirm(`Delete the user ${u.username}? Their memberships and API tokens go too.`)) return;
        busy(e.currentTarget, async () => {
          await api(`${USERS}${encodeURIComponent(u.username)}/`, { method: 'DELETE' });
          toast(`User ${u.username} deleted.`);
          location.hash = '/admin/users';
        });
      } }, 'Delete user') : null));
  replace(el,
    h('p', {}, h('a', { href: '#/admin/users' }, '← All users')),
    section(u.username,
      h('dl', { class: 'chart-summary' },
        h('div', {}, h('dt', {}, 'Joined'), h('dd', {}, when(u.date_joined))),
        h('div', {}, h('dt', {}, 'Roles'), h('dd', {}, u.is_superuser ? 'superuser'
          : (u.organization_users.map((m) => roleText(ctx, m)).join('; ') || 'no organization')))),
      form));
}

// ---- maintenance windows --------------------------------------------------------------------

function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

async function maintenance(el, ctx) {
  const [windows, locations] = await Promise.all([allPages(WINDOWS, {}, 2000), allPages(LOCATIONS, {}, 5000)]);
  const locName = new Map(locations.map((l) => [l.id, l.name]));
  const scopeText = (w) => {
    if (w.scope === 'organization') return 'whole organization';
    if (w.scope === 'location') return `location ${locName.get(w.object_id) || w.object_id}`;
    return h('span', {}, 'device ', h('a', { href: `#/device/${w.object_id}` }, w.object_id.slice(0, 8)));
  };
  const rows = windows.map((w) => h('tr', {},
    h('td', {}, ctx.orgName(w.organization)),
    h('td', {}, scopeText(w)),
    h('td', { class: 'nowrap' }, when(w.start)),
    h('td', { class: 'nowrap' }, when(w.end)),
    h('td', {}, w.is_open ? h('span', { class: 'badge st-problem' }, 'open now') : (new Date(w.end) < new Date() ? 'past' : 'upcoming')),
    h('td', {}, w.reason || h('span', { class: 'muted' }, '—')),
    h('td', {}, w.created_by || '—'),
    h('td', {}, h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete the window starting ${when(w.start)}`,
      onclick: (e) => {
        if (!confirm('Delete this maintenance window? Alerts it holds are released.')) return;
        busy(e.currentTarget, async () => {
          await api(`${WINDOWS}${w.id}/`, { method: 'DELETE' });
          toast('Maintenance window deleted.');
          await maintenance(el, ctx);
        });
      } }, 'Delete'))));
  replace(el,
    section('Maintenance windows',
      h('p', { class: 'muted small' }, 'While a window is open, problem alerts of the devices it covers are held: health still changes, nobody is notified. A problem still standing when the window closes is notified then.'),
      table(['Organization', 'Scope', 'Start', 'End', 'State', 'Reason', 'Created by', ''], rows, 'No maintenance windows.')),
    newWindow(ctx, locations, () => maintenance(el, ctx)));
}

function newWindow(ctx, locations, done) {
  const orgs = managedOrgs(ctx);
  if (!orgs.length) return h('p', { class: 'muted' }, 'Only organization administrators add maintenance windows.');
  const org = select(orgs.map((o) => [o.id, o.name]));
  const scope = select([['organization', 'Whole organization'], ['location', 'A location'], ['device', 'A device']]);
  const objectBox = h('div', {});
  let object = null; // the control holding object_id
  const now = new Date();
  now.setSeconds(0, 0);
  const start = h('input', { type: 'datetime-local', required: true, value: localInput(now) });
  const end = h('input', { type: 'datetime-local', required: true, value: localInput(new Date(now.getTime() + 2 * 3600_000)) });
  const reason = h('textarea', { rows: 2, maxlength: 500 });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Add window');

  async function drawObject() {
    object = null;
    replace(objectBox);
    if (scope.value === 'location') {
      const mine = locations.filter((l) => l.organization === org.value);
      object = select(mine.map((l) => [l.id, l.name]));
      object.required = true;
      replace(objectBox, mine.length ? field('Location', object) : h('p', { class: 'muted' }, 'This organization has no locations.'));
    } else if (scope.value === 'device') {
      replace(objectBox, h('p', { class: 'muted' }, 'Loading devices…'));
      try {
        const r = await api(DEVICES, { query: { organization: org.value, page_size: 100 } });
        if (r.count <= r.results.length) {
          object = select(r.results.map((d) => [d.id, d.name]));
          replace(objectBox, r.count ? field('Device', object) : h('p', { class: 'muted' }, 'This organization has no devices.'));
        } else {
          // Too many to list: the id from the device's page address.
          object = h('input', { required: true, pattern: '[0-9a-fA-F\\-]{32,36}', autocomplete: 'off', class: 'mono' });
          replace(objectBox, field('Device ID', object, { hint: 'The id in the device page address (#/device/…).' }));
        }
      } catch (x) {
        replace(objectBox, errorBox(x, 'Devices could not be loaded'));
      }
    }
  }
  org.addEventListener('change', drawObject);
  scope.addEventListener('change', drawObject);

  return section('New maintenance window', h('form', { class: 'form', onsubmit: (e) => {
    e.preventDefault();
    busy(submit, async () => {
      const body = {
        organization: org.value, scope: scope.value,
        start: new Date(start.value).toISOString(), end: new Date(end.value).toISOString(),
        reason: reason.value.trim(),
      };
      if (scope.value !== 'organization') {
        if (!object || !object.value) { toast('Choose what the window covers.', 'error'); return; }
        body.object_id = object.value.trim();
      }
      await api(WINDOWS, { method: 'POST', body });
      toast('Maintenance window added.');
      await done();
    });
  } },
    h('div', { class: 'row' }, field('Organization', org), field('Covers', scope)),
    objectBox,
    h('div', { class: 'row' }, field('Start (local time)', start), field('End (local time)', end)),
    field('Reason', reason),
    h('div', { class: 'actions' }, submit)));
}

// ---- API tokens and password ----------------------------------------------------------------

async function tokens(el, ctx) {
  const list = await api(TOKENS);
  const keyBox = h('div', { 'aria-live': 'polite' });
  const rows = list.map((t) => h('tr', {},
    h('td', { class: 'mono' }, String(t.id)),
    h('td', { class: 'nowrap' }, when(t.created)),
    h('td', {}, h('button', { type: 'button', class: 'small danger', 'aria-label': `Revoke token ${t.id}`, onclick: (e) => {
      if (!confirm('Revoke this token? Scripts using it stop working at once.')) return;
      busy(e.currentTarget, async () => {
        await api(`${TOKENS}${encodeURIComponent(t.id)}/`, { method: 'DELETE' });
        toast('Token revoked.');
        await tokens(el, ctx);
      });
    } }, 'Revoke'))));
  const create = h('button', { type: 'button', class: 'primary', onclick: () => busy(create, async () => {
    const r = await api(TOKENS, { method: 'POST' });
    await tokens(el, ctx);
    const box = el.querySelector('.token-key');
    const input = h('input', { readonly: true, value: r.key, class: 'mono', id: uid('key'), 'aria-describedby': 'key-once-note' });
    replace(box, h('div', { class: 'key-once' },
      h('p', { id: 'key-once-note' }, h('strong', {}, 'Your new token. '), 'Copy it now: it is shown only once.'),
      h('label', { for: input.id, class: 'sr-only' }, 'New API token'),
      h('div', { class: 'secret' }, input, copyButton(() => r.key))));
    input.focus();
    input.select();
  }) }, 'Create token');
  keyBox.classList.add('token-key');
  replace(el,
    section('API tokens',
      h('p', { class: 'muted small' }, 'Scripts authenticate with a token in the header ', h('code', {}, 'Authorization: Bearer <token>'), '. A token acts with your permissions.'),
      keyBox,
      table(['Token', 'Created', ''], rows, 'You have no API tokens.'),
      h('p', {}, create)),
    passwordForm(ctx));
}

function passwordForm(ctx) {
  const pass = h('input', { type: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
  const again = h('input', { type: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
  const submit = h('button', { type: 'submit' }, 'Change password');
  return section('Your password', h('form', { class: 'form', onsubmit: (e) => {
    e.preventDefault();
    if (pass.value !== again.value) { toast('The two passwords differ.', 'error'); again.focus(); return; }
    busy(submit, async () => {
      await api(`${USERS}${encodeURIComponent(ctx.session.username)}/`, { method: 'PATCH', body: { password: pass.value } });
      pass.value = '';
      again.value = '';
      toast('Password changed.');
    });
  } },
    h('div', { class: 'row' }, field('New password', pass, { hint: 'At least 8 characters.' }), field('New password again', again)),
    h('div', { class: 'actions' }, submit)));
}
