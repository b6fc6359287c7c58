import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { crdResource, endpointSlice, FakeKubeApiServer, httpRoute, MESH_CRDS, service } from '../support/fake-kube-apiserver.js';
import { startMeshdns, type MeshdnsProcess } from '../support/meshdns-process.js';
import { within } from '../support/poll.js';

/** Traffic splits in the console (real Chromium): the split's source, backends and shares, live as a canary steps. */
let api: FakeKubeApiServer;
let s: MeshdnsProcess;
let browser: Browser;
let page: Page;
const ROUTES = crdResource(MESH_CRDS.httproutes);

before(async () => {
  api = await FakeKubeApiServer.start();
  api.installCrd(MESH_CRDS.httproutes);
  for (const [name, address] of [['web', '10.80.0.1'], ['web-canary', '10.80.1.1']] as const) {
    api.apply('services', service('shop', name));
    api.apply('endpointslices', endpointSlice('shop', `${name}-1`, name, [{ address }]));
  }
  api.apply(ROUTES, httpRoute('shop', 'web-canary', 'web', [['web', 90], ['web-canary', 10]]));
  s = await startMeshdns(['--upstream', 'none', '--kubernetes', 'on', '--kubeconfig', api.kubeconfig()]);
  await within(10_000, async () => (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).status === 200);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${s.httpPort}/ui/`);
});
after(async () => {
  await browser?.close();
  await s.stop();
  await api.stop();
});

const backendShare = (backend: string): Promise<string | null> => page.textContent(`section[data-service="shop/web"] tr[data-backend="${backend}"] .share span`);

test('an apex shows its split, where it came from and each backend\u2019s share; a step and an unready backend show within 2 s', async () => {
  await page.waitForSelector('section[data-service="shop/web"] table.split', { timeout: 5000 });
  assert.match((await page.textContent('section[data-service="shop/web"] h2'))!, /split by HTTPRoute shop\/web-canary/);
  assert.equal(await backendShare('web.shop'), '90.0%');
  assert.equal(await backendShare('web-canary.shop'), '10.0%');
  // The apex's own instance gets the part the split gives the apex itself.
  assert.match((await page.textContent('section[data-service="shop/web"] tr[data-instance="10-80-0-1"]'))!, /90\.0%/);
  api.apply(ROUTES, httpRoute('shop', 'web-canary', 'web', [['web', 50], ['web-canary', 50]]));
  await page.waitForFunction(() => document.querySelector('section[data-service="shop/web"] tr[data-backend="web-canary.shop"] .share span')?.textContent === '50.0%', undefined, { timeout: 2000 });
  // A backend going unready changes the apex's view too (the catalog's backend → apex index).
  api.apply('endpointslices', endpointSlice('shop', 'web-canary-1', 'web-canary', [{ address: '10.80.1.1', ready: false }]));
  await page.waitForFunction(() => document.querySelector('section[data-service="shop/web"] tr[data-backend="web.shop"] .share span')?.textContent === '100.0%', undefined, { timeout: 2000 });
  assert.match((await page.textContent('section[data-service="shop/web"] tr[data-backend="web-canary.shop"]'))!, /no/);
});
