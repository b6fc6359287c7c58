import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { api, instancePath } from '../support/rest-client.js';

/**
 * The console in a real browser (Debian's chromium, driven by playwright-core): it lists what is registered,
 * follows additions and removals live, filters, shows shares as bars, and loads nothing from elsewhere.
 * CONSOLE_SCREENSHOT=path saves a picture of it (the README's).
 */
let s: MeshdnsProcess;
let browser: Browser;
let page: Page;
const requested: string[] = [];

before(async () => {
  s = await startMeshdns(['--upstream', 'none']);
  const port = [{ name: 'http', port: 8080 }];
  await api(s.httpPort, 'PUT', instancePath('shop', 'cart', 'cart-1'), { address: '10.70.0.1', ports: port, weight: 300, zone: 'eu-west-1a' });
  await api(s.httpPort, 'PUT', instancePath('shop', 'cart', 'cart-2'), { address: '10.70.0.2', ports: port, weight: 100, zone: 'eu-west-1b' });
  await api(s.httpPort, 'PUT', '/v1/services/shop/cart/policy', { loadBalancer: 'round-robin', failover: ['cart.dr'] });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('request', (r) => requested.push(r.url()));
  await page.goto(`http://127.0.0.1:${s.httpPort}/ui/`);
});
after(async () => {
  await browser?.close();
  await s.stop();
});

const service = (key: string): string => `section[data-service="${key}"]`;

test('lists every service with its sources, policy and instances, shares as bars', async () => {
  await page.waitForSelector(service('shop/cart'), { timeout: 5000 });
  await page.waitForSelector(service('default/web'));
  const cart = await page.textContent(service('shop/cart'));
  assert.match(cart!, /round-robin/);
  assert.match(cart!, /failover cart\.dr/);
  assert.match(cart!, /10\.70\.0\.1/);
  assert.match(cart!, /eu-west-1a/);
  assert.match(cart!, /75\.0%/);
  assert.match(cart!, /25\.0%/);
  const bar = await page.getAttribute(`${service('shop/cart')} tr[data-instance="cart-1"] .bar`, 'style');
  assert.match(bar!, /width:90\.0px/);
  assert.match((await page.textContent(service('default/web')))!, /zonefile/);
});

test('additions and removals appear within 2 s without a reload', async () => {
  const started = Date.now();
  await api(s.httpPort, 'PUT', instancePath('pay', 'api', 'api-1'), { address: '10.71.0.1', ports: [] });
  await page.waitForSelector(service('pay/api'), { timeout: 2000 });
  await api(s.httpPort, 'DELETE', instancePath('shop', 'cart', 'cart-2'));
  await page.waitForSelector(`${service('shop/cart')} tr[data-instance="cart-2"]`, { state: 'detached', timeout: 2000 });
  assert.match((await page.textContent(service('shop/cart')))!, /100\.0%/);
  await api(s.httpPort, 'DELETE', instancePath('pay', 'api', 'api-1'));
  await page.waitForSelector(service('pay/api'), { state: 'detached', timeout: 2000 });
  assert.ok(Date.now() - started < 6000);
});

test('filters by namespace and by text', async () => {
  await page.selectOption('#ns', 'shop');
  assert.equal(await page.locator('section.svc').count(), 1);
  await page.selectOption('#ns', '');
  await page.fill('#q', '10.0.0.11');
  const shown = await page.locator('section.svc').evaluateAll((els) => els.map((e) => e.getAttribute('data-service')));
  assert.deepEqual(shown, ['default/web']);
  await page.fill('#q', '');
  if (process.env.CONSOLE_SCREENSHOT) await page.screenshot({ path: process.env.CONSOLE_SCREENSHOT, fullPage: false });
});

test('loads nothing from anywhere but meshdns', () => {
  assert.ok(requested.length >= 3);
  for (const url of requested) assert.ok(url.startsWith(`http://127.0.0.1:${s.httpPort}/`), url);
});

test('behind --api-read-auth on, its data and stream need a token, which the page takes from the URL fragment', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshdns-console-'));
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'tokens.yaml'), '- {name: viewer, token: "viewer-token-0000000", write: []}\n- {name: writer, token: "writer-token-0000000", write: ["*"]}\n');
  const locked = await startMeshdns(['--upstream', 'none', '--api-tokens', join(dir, 'tokens.yaml'), '--api-read-auth', 'on']);
  try {
    assert.equal((await fetch(`http://127.0.0.1:${locked.httpPort}/ui/api/services`)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${locked.httpPort}/ui/events`)).status, 401);
    const ok = await fetch(`http://127.0.0.1:${locked.httpPort}/ui/api/services`, { headers: { authorization: 'Bearer viewer-token-0000000' } });
    assert.equal(ok.status, 200);
    // In the browser: without a token the page says why it has no data; with one in the fragment it shows it.
    const anonymous = await browser.newPage();
    await anonymous.goto(`http://127.0.0.1:${locked.httpPort}/ui/`);
    await anonymous.waitForFunction(() => document.getElementById('status')!.textContent!.includes('needs an API token'), undefined, { timeout: 5000 });
    assert.equal(await anonymous.locator('section.svc').count(), 0);
    const viewer = await browser.newPage();
    await viewer.goto(`http://127.0.0.1:${locked.httpPort}/ui/#token=viewer-token-0000000`);
    await viewer.waitForSelector(service('default/web'), { timeout: 5000 });
    const put = await api(locked.httpPort, 'PUT', instancePath('live', 'svc', 'a'), { address: '10.72.0.1', ports: [] }, { authorization: 'Bearer writer-token-0000000' });
    assert.equal(put.status, 200);
    await viewer.waitForSelector(service('live/svc'), { timeout: 2000 });
  } finally {
    await locked.stop();
  }
});
