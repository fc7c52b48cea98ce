// The web UI in a real browser (Debian's Chromium driven by playwright-core), against a wispmon
// started by tests/ui.rs: log in, dashboard and map, device list, a device that received the
// fixtures of tests/fixtures/netjson, timeframes, CSV export, an alert threshold change, a notification arriving
// live, the System page of wispmon's own numbers, logout. Screenshots of the main pages go to OUTDIR for people to look at.
//
// Usage: node ui.test.mjs BASE_URL ADMIN_PASSWORD OUTDIR. Exit status 0 only if every step
// passed; each failure is printed with the step it happened in.

import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { seed, call, sample, fixture } from './seed.mjs';

const [base, adminPassword, outDir] = process.argv.slice(2);
if (!base || !adminPassword || !outDir) {
  console.error('usage: node ui.test.mjs BASE_URL ADMIN_PASSWORD OUTDIR');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const launchArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let step = 'start';
const problems = [];
function check(ok, what) {
  if (!ok) throw new Error(what);
}

const data = await seed(base, adminPassword, { hours: 24, stepMinutes: 60 });
const gw = data.devices.find((d) => d.name === 'hilltop-gw');
const quiet = data.devices.find((d) => d.name === 'townhall-ap');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: launchArgs,
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
const page = await context.newPage();
const foreign = [];
const consoleErrors = [];
page.on('request', (r) => {
  if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) foreign.push(r.url());
});
page.on('console', (m) => {
  if (m.type() === 'error') consoleErrors.push(`[${step}] ${m.text()}`);
});
page.on('pageerror', (e) => consoleErrors.push(`[${step}] page error: ${e.message}`));

/** Controls on screen that have no accessible name (no label, aria-label, text or title). */
async function unlabeled() {
  return page.evaluate(() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href]')]
    .filter((e) => e.getClientRects().length > 0)
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
      && !e.getAttribute('aria-labelledby') && !e.title
      && !((e.tagName === 'BUTTON' || e.tagName === 'A') && e.textContent.trim())
      && !(e.tagName === 'A' && e.querySelector('img[alt]:not([alt=""])')))
    .map((e) => e.outerHTML.slice(0, 160)));
}

async function labelled(where) {
  const bad = await unlabeled();
  check(bad.length === 0, `controls without a name on ${where}:\n${bad.join('\n')}`);
}

async function shot(name) {
  await page.screenshot({ path: path.join(outDir, `${name}.png`), fullPage: true });
}

try {
  step = 'login';
  await page.goto(`${base}/`);
  await page.waitForURL(/#\/login/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Unable to log in' }).waitFor();
  await shot('01-login-refused');
  // The refused login's 400 is the one error this test causes on purpose.
  consoleErrors.length = 0;
  await labelled('the login page');
  // By keyboard alone: the password field, then Enter.
  await page.getByLabel('Password').focus();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type(adminPassword);
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => !u.hash.startsWith('#/login'));
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'wispmon_session');
  check(session && session.httpOnly && session.sameSite === 'Strict', `session cookie flags: ${JSON.stringify(session)}`);

  step = 'dashboard';
  await page.locator('#status-pie a').first().waitFor();
  await page.locator('#map .leaflet-container, #map.leaflet-container').first().waitFor();
  await page.locator('#map .leaflet-marker-icon').first().waitFor();
  // The offline basemap is drawn (no tile server is configured).
  await page.locator('#map path.leaflet-interactive, #map svg path').first().waitFor({ state: 'attached' });
  // The WiFi clients and the traffic chart.
  await page.locator('#dashboard-charts .uplot').nth(1).waitFor();
  await page.waitForTimeout(500);
  await labelled('the dashboard');
  await shot('02-dashboard');

  step = 'device list';
  await page.getByRole('link', { name: 'Devices', exact: true }).click();
  await page.locator('#device-list').waitFor();
  for (const d of data.devices) {
    await page.locator('#device-list').getByRole('link', { name: d.name, exact: true }).waitFor();
  }
  await labelled('the device list');
  await shot('03-devices');

  step = 'device status';
  await page.locator('#device-list').getByRole('link', { name: gw.name, exact: true }).click();
  await page.waitForURL(new RegExp(`#/device/${gw.id}`));
  await page.getByRole('heading', { name: gw.name }).first().waitFor();
  // The snapshot of the fixture is rendered: one of its interfaces and its DHCP leases.
  const doc = fixture('ap-two-radios.json');
  const iface = doc.interfaces.find((i) => i.type === 'wireless') || doc.interfaces[0];
  await page.getByText(iface.name, { exact: true }).first().waitFor();
  // The config agent's report (seeded as an error) is in the header.
  await page.locator('.device-facts .config-error').getByText(/^error: Could not apply configuration/).waitFor();
  await labelled('the device status tab');
  await shot('04-device-status');

  step = 'device charts';
  await page.getByRole('tab', { name: 'Charts' }).click();
  await page.locator('.chart .uplot').nth(4).waitFor();
  const charts1d = await page.locator('.chart .uplot').count();
  check(charts1d >= 5, `expected the device's charts, found ${charts1d}`);
  const reload = page.waitForResponse((r) => r.url().includes(`/api/v1/monitoring/device/${gw.id}/`) && r.url().includes('time=7d') && r.status() === 200);
  await page.getByRole('button', { name: '7d', exact: true }).click();
  await reload;
  check(await page.getByRole('button', { name: '7d', exact: true }).getAttribute('aria-pressed') === 'true', '7d is the pressed timeframe');
  await page.locator('.chart .uplot').first().waitFor();
  await labelled('the device charts tab');
  await shot('05-device-charts-7d');
  const downloadP = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export data' }).click();
  const download = await downloadP;
  check(download.suggestedFilename() === 'data.csv', `download name ${download.suggestedFilename()}`);
  const csv = readFileSync(await download.path(), 'utf8');
  const lines = csv.trim().split(/\r?\n/);
  check(lines.length > 2 && lines[0].includes(','), `the CSV has a header and rows: ${lines.slice(0, 2)}`);
  // The timeframe is remembered.
  await page.reload();
  await page.locator('.chart .uplot').first().waitFor();
  check(await page.getByRole('button', { name: '7d', exact: true }).getAttribute('aria-pressed') === 'true', 'the timeframe choice survives a reload');

  step = 'alert threshold';
  await page.getByRole('tab', { name: 'Alerts & checks' }).click();
  const form = page.locator('form.alert-form[data-metric="disk"]');
  await form.waitFor();
  await form.getByLabel('Threshold').fill('95');
  const saved = page.waitForResponse((r) => r.url().includes('/alert-settings/') && r.request().method() !== 'GET');
  await form.getByRole('button', { name: 'Save' }).click();
  const savedR = await saved;
  check(savedR.status() === 200, `saving the threshold answered ${savedR.status()}`);
  await page.reload();
  await page.locator('form.alert-form[data-metric="disk"]').waitFor();
  const th = await page.locator('form.alert-form[data-metric="disk"]').getByLabel('Threshold').inputValue();
  check(Number(th) === 95, `threshold after reload: ${th}`);
  const diskMetric = (await call(base, data.token, 'GET', `/api/v1/monitoring/device/${gw.id}/metric/`))
    .find((m) => m.key === 'disk' || m.name === 'Disk usage' || m.name === 'disk');
  check(diskMetric, 'the disk metric is listed');
  await labelled('the alerts and checks tab');
  await shot('06-device-alerts');

  step = 'notification arrives live';
  await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
  await page.locator('#status-pie a').first().waitFor();
  const bell = page.locator('.bell');
  const before = Number((await bell.getAttribute('aria-label')).match(/(\d+) unread/)[1]);
  // A router that was fine reports a nearly full disk: above the default 90 % threshold.
  const ap = fixture('ap-two-radios.json');
  await call(base, null, 'POST', `/api/v1/monitoring/device/${quiet.id}/?key=${quiet.key}`, sample(ap, 100, 99));
  await page.waitForFunction((n) => {
    const b = document.querySelector('.bell');
    const m = b && b.getAttribute('aria-label').match(/(\d+) unread/);
    return m && Number(m[1]) > n;
  }, before, { timeout: 15000 });
  check(await page.locator('.bell-count').isVisible(), 'the bell shows its count');
  await shot('07-notification-arrived');
  await bell.click();
  await page.locator('.bell-list').getByText(quiet.name).first().waitFor();
  await shot('08-bell-open');
  await page.keyboard.press('Escape');

  step = 'notifications page';
  await page.getByRole('link', { name: 'Notifications', exact: true }).click();
  await page.locator('main').getByText(quiet.name).first().waitFor();
  await labelled('the notifications page');
  await shot('09-notifications');
  await page.getByRole('link', { name: 'Administration', exact: true }).click();
  await page.getByRole('heading').filter({ hasText: /Organizations/ }).first().waitFor();
  await labelled('the administration page');
  await shot('09b-administration');
  await page.locator('main').getByRole('link', { name: 'North Wireless', exact: true }).click();
  await page.getByRole('heading', { name: 'Configuration archive' }).waitFor();
  await page.getByText('/etc/wispmon/README', { exact: true }).waitFor();
  await labelled('an organization page');
  await shot('09d-organization');

  step = 'system page';
  await page.getByRole('link', { name: 'System', exact: true }).click();
  await page.getByRole('heading', { name: 'System', exact: true }).waitFor();
  // The self-monitoring writer (every second in this test) has stored memory and disk.
  await page.locator('#system-charts .uplot').nth(1).waitFor({ timeout: 15000 });
  await page.waitForTimeout(300);
  await labelled('the system page');
  await shot('09c-system');

  step = 'phone';
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
  await page.locator('#map .leaflet-marker-icon').first().waitFor();
  await shot('10-dashboard-phone');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `the dashboard overflows a phone screen by ${overflow}px`);
  await page.setViewportSize({ width: 1280, height: 900 });

  step = 'logout';
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(/#\/login/);
  const errorsBefore = consoleErrors.length;
  const r = await page.evaluate(async () => (await fetch('/api/v1/monitoring/device/')).status);
  check(r === 401, `after logout the API answers ${r}`);
  // That 401 was asked for.
  consoleErrors.length = errorsBefore;

  step = 'no outside requests, no console errors';
  check(foreign.length === 0, `requests outside wispmon: ${foreign.join(', ')}`);
  check(consoleErrors.length === 0, `console errors:\n${consoleErrors.join('\n')}`);
} catch (e) {
  problems.push(`step "${step}": ${e.message}`);
  try { await shot(`failed-${step.replace(/\W+/g, '-')}`); } catch { /* browser gone */ }
}
await browser.close();
if (problems.length) {
  console.error(problems.join('\n'));
  if (consoleErrors.length) console.error(`console errors:\n${consoleErrors.join('\n')}`);
  process.exit(1);
}
console.log(`ui: every step passed; screenshots in ${outDir}`);
