// Development aid: logs in and saves a screenshot of one page, printing console errors.
// Usage: node shot.mjs BASE_URL HASH_PATH OUT.png [WIDTHxHEIGHT] [USER PASSWORD]
import { chromium } from 'playwright-core';

const [base, hashPath, out, size = '1280x900', user = 'admin', password = 'admin-password-1'] = process.argv.slice(2);
const [width, height] = size.split('x').map(Number);
export const launchArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: launchArgs });
const page = await browser.newPage({ viewport: { width, height } });
page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`console ${m.type()}: ${m.text()}`); });
page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
await page.goto(`${base}/#/login`);
await page.getByLabel('Username').fill(user);
await page.getByLabel('Password').fill(password);
await page.getByRole('button', { name: 'Log in' }).click();
await page.waitForFunction(() => !location.hash.startsWith('#/login'));
await page.goto(`${base}/#${hashPath}`);
await page.waitForTimeout(2500);
await page.screenshot({ path: out, fullPage: true });
await browser.close();
console.log(`saved ${out}`);
