// Fills a fresh wispmon with what the UI shows: two organizations, users, locations (one with
// a floor plan), devices on loopback management addresses, and a day of metrics posted the
// way routers post them (tests/fixtures/netjson, with counters that grow), backlog included.
//
// Usage: node seed.mjs http://127.0.0.1:PORT ADMIN_PASSWORD  (prints a JSON summary)
// Also imported by ui.test.mjs.

import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
// The project's copy of the shared device fixtures.
const fixtures = path.resolve(here, '../fixtures/netjson');

export function fixture(name) {
  return JSON.parse(readFileSync(path.join(fixtures, name), 'utf8'));
}

export async function call(base, token, method, p, body, extraHeaders = {}) {
  const headers = { ...extraHeaders };
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (body instanceof Uint8Array) {
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(base + p, { method, headers, body: payload });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`);
  return json;
}

/** The agent's `time` parameter: dd-mm-YYYY_HH:MM:SS.ffffff in UTC. */
export function agentTime(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCDate())}-${p(d.getUTCMonth() + 1)}-${d.getUTCFullYear()}_${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}000`;
}

/** A sample from a fixture with traffic counters advanced by `step` and CPU/memory varied. */
export function sample(doc, step, diskPercent) {
  const d = structuredClone(doc);
  for (const i of d.interfaces || []) {
    if (i.statistics) {
      i.statistics.rx_bytes = (i.statistics.rx_bytes || 0) + step * 3_500_000 + Math.round(Math.random() * 900_000);
      i.statistics.tx_bytes = (i.statistics.tx_bytes || 0) + step * 1_200_000 + Math.round(Math.random() * 300_000);
    }
  }
  const r = d.resources || {};
  if (Array.isArray(r.load)) r.load = r.load.map(() => Math.round(Math.random() * 60) / 100 + 0.1 * (step % 5));
  if (r.memory && r.memory.total) {
    r.memory.free = Math.round(r.memory.total * (0.35 + 0.2 * Math.sin(step / 7)));
  }
  if (diskPercent !== undefined && Array.isArray(r.disk)) {
    for (const disk of r.disk) {
      if (disk.mount_point === '/overlay' && disk.size_bytes) {
        disk.used_bytes = Math.round(disk.size_bytes * diskPercent / 100);
        disk.available_bytes = disk.size_bytes - disk.used_bytes;
        disk.used_percent = diskPercent;
      }
    }
  }
  return d;
}

/** A w×h PNG of one colour with a darker frame (a stand-in floor plan). */
export function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3);
    for (let x = 0; x < w; x++) {
      const frame = x < 4 || y < 4 || x >= w - 4 || y >= h - 4 || x === Math.floor(w / 2);
      row[1 + x * 3] = frame ? 90 : 235; row[2 + x * 3] = frame ? 90 : 238; row[3 + x * 3] = frame ? 100 : 242;
    }
    rows.push(row);
  }
  return new Uint8Array(Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0)),
  ]));
}

export async function seed(base, adminPassword, { hours = 24, stepMinutes = 30 } = {}) {
  const tok = (await call(base, null, 'POST', '/api/v1/users/token/', { username: 'admin', password: adminPassword })).token;
  const c = (m, p, b) => call(base, tok, m, p, b);
  const north = await c('POST', '/api/v1/users/organization/', { name: 'North Wireless' });
  const south = await c('POST', '/api/v1/users/organization/', { name: 'South Fibre' });
  await c('POST', '/api/v1/users/user/', { username: 'alice', password: 'password-123', email: 'alice@example.net', organization_users: [{ organization: north.id, is_admin: true }] }).catch(() => null);
  const locs = [];
  for (const [org, name, lat, lng] of [
    [north, 'Hilltop tower', 45.4780, 9.2250],
    [north, 'Town hall', 45.4640, 9.1900],
    [north, 'Riverside', 45.4500, 9.1700],
    [south, 'South POP', 45.4000, 9.1000],
  ]) {
    locs.push(await c('POST', '/api/v1/geo/location/', {
      organization: org.id, name, type: name === 'Town hall' ? 'indoor' : 'outdoor',
      address: `${name}, Milan`, geometry: { type: 'Point', coordinates: [lng, lat] },
    }));
  }
  const plan = await c('POST', '/api/v1/geo/floorplan/', { location: locs[1].id, floor: 1 });
  await c('PUT', `/api/v1/geo/floorplan/${plan.id}/image/`, png(400, 240));
  const ap = fixture('ap-two-radios.json');
  const lte = fixture('lte-router.json');
  const devices = [];
  const specs = [
    ['hilltop-gw', north, 0, ap, 40],
    ['hilltop-ap-1', north, 0, ap, 55],
    ['hilltop-ap-2', north, 0, ap, 97],
    ['townhall-ap', north, 1, ap, 30],
    ['riverside-cpe', north, 2, lte, 20],
    ['south-core', south, 3, ap, 25],
  ];
  let n = 0;
  for (const [name, org, li, doc, disk] of specs) {
    n += 1;
    const mac = `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;
    const d = await c('POST', '/api/v1/controller/device/', {
      name, organization: org.id, mac_address: mac, management_ip: `127.0.0.${n + 1}`,
    });
    const place = { location: locs[li].id };
    if (li === 1) Object.assign(place, { floorplan: plan.id, indoor: '120.5,80.25' });
    await c('PUT', `/api/v1/controller/device/${d.id}/location/`, place);
    devices.push({ ...d, docName: doc === ap ? 'ap-two-radios' : 'lte-router' });
    const now = Date.now();
    const steps = Math.floor((hours * 60) / stepMinutes);
    // Backlog first, newest last, as an agent flushing its queue does.
    for (let s = steps; s >= 1; s--) {
      const t = now - s * stepMinutes * 60_000;
      const body = sample(doc, steps - s, Math.min(disk, 85));
      await call(base, null, 'POST', `/api/v1/monitoring/device/${d.id}/?key=${d.key}&time=${agentTime(t)}`, body);
    }
    await call(base, null, 'POST', `/api/v1/monitoring/device/${d.id}/?key=${d.key}`, sample(doc, steps, disk));
    if (n === 1) {
      // Its config agent failed to apply the archive, as openwisp-config reports it.
      const r = await fetch(`${base}/controller/report-status/${d.id}/`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `key=${d.key}&status=error&error_reason=${encodeURIComponent('Could not apply configuration, openwisp-update-config exit code was 1\nThe most recent configuration backup was restored')}`,
      });
      if (r.status !== 200) throw new Error(`report-status: ${r.status} ${await r.text()}`);
    }
  }
  return { token: tok, organizations: [north, south], locations: locs, floorplan: plan, devices };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [base, password] = process.argv.slice(2);
  if (!base || !password) {
    console.error('usage: node seed.mjs BASE_URL ADMIN_PASSWORD');
    process.exit(2);
  }
  const r = await seed(base, password);
  console.log(JSON.stringify({ token: r.token, devices: r.devices.map((d) => ({ id: d.id, name: d.name, key: d.key })) }, null, 1));
}
