// Browser checks of the mkube console (ui/) against a running mkube and its RouterOS device.
// Configured only by the environment:
//   MKUBE_URL (http://127.0.0.1:8082), DEVICE_URL (http://127.0.0.1:18728),
//   DEVICE_USER / DEVICE_PASSWORD (admin / demo), MKUBE_TOKEN (when the API asks for one),
//   SCREENSHOTS (a directory for site.png, pods.png, …), DELETE_POD / CRASH_POD (ns/name),
//   CHROMIUM (/usr/bin/chromium), RESTORE=0 to leave the deleted pod deleted.
// Prints "ok - <check>" per check; the first failure prints "not ok - …" and exits 1.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const env = process.env;
const MKUBE = (env.MKUBE_URL || 'http://127.0.0.1:8082').replace(/\/$/, '');
const DEVICE = (env.DEVICE_URL || 'http://127.0.0.1:18728').replace(/\/$/, '');
const DEVICE_AUTH = 'Basic ' + Buffer.from(`${env.DEVICE_USER || 'admin'}:${env.DEVICE_PASSWORD || 'demo'}`).toString('base64');
const TOKEN = env.MKUBE_TOKEN || '';
const SHOTS = env.SCREENSHOTS || '';
const WAIT = 60_000;

const ok = (what) => console.log('ok - ' + what);
const note = (what) => console.log('# ' + what);
class Failure extends Error {}
const fail = (what) => { throw new Failure(what); };

async function api(path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (TOKEN) headers.Authorization = 'Bearer ' + TOKEN;
  let resp;
  try { resp = await fetch(MKUBE + path, { ...opts, headers }); } catch (e) { fail(`cannot reach mkube at ${MKUBE}${path}: ${e.cause ? e.cause.message || e.cause.code : e.message}`); }
  const text = await resp.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* text */ }
  return { status: resp.status, body };
}
async function apiOk(path) {
  const r = await api(path);
  if (r.status !== 200) fail(`GET ${path} answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}
async function deviceContainers() {
  let resp;
  try { resp = await fetch(DEVICE + '/rest/container', { headers: { Authorization: DEVICE_AUTH } }); } catch (e) { fail(`cannot reach the device at ${DEVICE}: ${e.cause ? e.cause.message || e.cause.code : e.message}`); }
  if (!resp.ok) fail(`device GET /rest/container answered ${resp.status}`);
  return (await resp.json()).map((c) => c.name);
}
// Polls until fn() returns something truthy; fails with what it waited for and the last value.
async function until(what, fn, ms = WAIT) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e.message; }
    if (Date.now() > end) fail(`timed out after ${ms / 1000}s waiting for ${what}` + (last != null && last !== false ? ` (last: ${String(last).slice(0, 300)})` : ''));
    await new Promise((r) => setTimeout(r, 250));
  }
}

const podKey = (p) => `${p.metadata.namespace}/${p.metadata.name}`;
const running = (p) => p.status && p.status.phase === 'Running' && !p.metadata.deletionTimestamp;

const browser = await chromium.launch({
  executablePath: env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
let restore = null;
let code = 0;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) problems.push('CSP: ' + m.text());
  });
  page.on('dialog', (d) => d.accept());
  const go = (hash) => page.evaluate((h) => { location.hash = h; }, hash); // no reload
  const shot = async (name) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(SHOTS, name + '.png') });
  };
  const attrs = (sel, attr) => page.$$eval(sel, (els, a) => els.map((e) => e.getAttribute(a)), attr);

  const podList = (await apiOk('/api/v1/pods')).items || [];
  if (!podList.length) fail('the API lists no pods; the checks need a few running pods');

  // 1. The token.
  if (TOKEN) {
    await page.goto(MKUBE + '/ui/#/pods');
    await page.waitForSelector('#token-form', { timeout: 15000 });
    const leaks = async () => {
      const text = await page.evaluate(() => document.body.innerText + ' ' + document.documentElement.outerHTML);
      return podList.map((p) => p.metadata.name).filter((n) => new RegExp(`\\b${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(text));
    };
    let seen = await leaks();
    if (seen.length) fail(`the token form shows pod names before a token: ${seen.join(', ')}`);
    await page.fill('#token-input', 'wrong-' + Date.now());
    await page.click('#token-submit');
    await until('the wrong token to be refused', async () => /refused/i.test(await page.textContent('#token-message')));
    if (!(await page.$('#token-form'))) fail('the token form went away with a wrong token');
    seen = await leaks();
    if (seen.length) fail(`pod names shown with a wrong token: ${seen.join(', ')}`);
    await page.fill('#token-input', TOKEN);
    await page.click('#token-submit');
    await page.waitForSelector('#pods-table tr[data-pod]', { timeout: 15000 });
    ok('the console asks for a token, shows no pod before it, refuses a wrong one and works with the right one');
  } else {
    await page.goto(MKUBE + '/ui/#/pods');
    if ((await api('/api/v1/pods')).status === 401) fail('the API asks for a token: set MKUBE_TOKEN');
    note('MKUBE_TOKEN not set: token checks skipped');
  }
  await page.evaluate(() => { window.__noReload = true; });

  // 2. Every page renders what the API has.
  const want = podList.map(podKey).sort();
  await until(`the pods page to list ${want.join(', ')}`, async () => {
    const got = await attrs('#pods-table tr[data-pod]', 'data-pod');
    return want.every((k) => got.includes(k)) || 'shown: ' + got.join(', ');
  }, 20000);
  ok(`pods page lists every pod (${want.length})`);
  await shot('pods');

  await go('#/site');
  const nodes = ((await apiOk('/api/v1/nodes')).items || []).map((n) => n.metadata.name);
  await until(`the site page to show nodes ${nodes.join(', ')}`, async () => {
    const got = await attrs('[data-node]', 'data-node');
    return nodes.every((n) => got.includes(n)) || 'shown: ' + got.join(', ');
  }, 20000);
  await until('the first metrics plot', () => page.$('#plot-pods svg'), 10000);
  ok(`site page shows every node (${nodes.join(', ')}) and the metrics plots`);
  if (SHOTS) { // a few samples make the plots worth looking at
    await page.waitForTimeout(11000);
    await shot('site');
  }

  await go('#/networks');
  const netsBody = await apiOk('/api/v1/networks');
  const nets = (Array.isArray(netsBody) ? netsBody : netsBody.items || []).map((n) => n.name);
  await until(`the networks page to show ${nets.join(', ')}`, async () => {
    const got = await attrs('[data-network]', 'data-network');
    return nets.every((n) => got.includes(n)) || 'shown: ' + got.join(', ');
  }, 20000);
  await until('the DNS zone health', () => page.$('#dns-summary'), 20000);
  ok(`networks page shows every network (${nets.join(', ')})`);
  await shot('networks');

  await go('#/images');
  const imgsBody = await apiOk('/api/v1/images');
  const refs = (Array.isArray(imgsBody) ? imgsBody : imgsBody.items || []).map((i) => i.ref);
  await until(`the images page to show ${refs.join(', ')}`, async () => {
    const got = await attrs('#images-table tr[data-image]', 'data-image');
    return (refs.every((r) => got.includes(r)) && (refs.length || (await page.$('#images-table')))) || 'shown: ' + got.join(', ');
  }, 20000);
  ok(`images page shows every image (${refs.length ? refs.join(', ') : 'none cached'})`);
  await shot('images');

  await go('#/consistency');
  const summaryText = () => page.$eval('#consistency-summary', (e) =>
    ['pass', 'warn', 'fail'].map((k) => `${k}=${e.querySelector(`[data-testid=summary-${k}] b`).textContent}`).join(' '));
  await until('the consistency summary to match the API', async () => {
    await page.waitForSelector('#consistency-summary', { timeout: 20000 });
    const s = (await apiOk('/api/v1/consistency')).summary || {};
    const fromApi = ['pass', 'warn', 'fail'].map((k) => `${k}=${s[k] ?? 0}`).join(' ');
    const shown = await summaryText();
    if (shown === fromApi) return shown;
    await page.click('#consistency-refresh'); // the report changed between the two runs
    await page.waitForTimeout(1000);
    return `page ${shown}, API ${fromApi}`;
  }, 30000);
  ok(`consistency page shows the report's summary (${await summaryText()})`);
  await shot('consistency');

  await go('#/events');
  const lastSeq = String((await apiOk('/api/v1/log?limit=1')).metadata.resourceVersion);
  await until(`the events page to show record ${lastSeq}`, async () => {
    const got = await attrs('#feed tr[data-seq]', 'data-seq');
    return got.includes(lastSeq) || `${got.length} records, last ${got[got.length - 1]}`;
  }, 20000);
  ok(`events page shows the log's records (up to seq ${lastSeq})`);
  await shot('events');

  // 3. A crash on the device shows on the pods page without a reload.
  const runningPods = podList.filter(running);
  const delKey = env.DELETE_POD || (runningPods[runningPods.length - 1] && podKey(runningPods[runningPods.length - 1]));
  const crashKey = env.CRASH_POD || (runningPods.find((p) => podKey(p) !== delKey) && podKey(runningPods.find((p) => podKey(p) !== delKey)));
  if (!crashKey || !delKey) fail('need two running pods (CRASH_POD and DELETE_POD)');
  if (crashKey === delKey) fail('CRASH_POD and DELETE_POD are the same pod');
  for (const k of [crashKey, delKey]) if (!want.includes(k)) fail(`${k} is not a pod the API lists (${want.join(', ')})`);
  await go('#/pods');
  const row = `#pods-table tr[data-pod="${crashKey}"]`;
  const cell = async (tid) => {
    const el = await page.$(`${row} [data-testid=${tid}]`);
    if (!el) throw new Error(`no ${tid} cell in the row of ${crashKey}`);
    return (await el.textContent()).trim();
  };
  const before = await until(`${crashKey} to show all containers ready`, async () => {
    const [r, n] = (await cell('ready')).split('/').map(Number);
    return r === n && n > 0 && { ready: `${r}/${n}`, phase: await cell('phase'), restarts: Number(await cell('restarts')) };
  });
  const [cns, cname] = crashKey.split('/');
  const crashNames = (await deviceContainers()).filter((n) => n.startsWith(`${cns}_${cname}_`));
  if (!crashNames.length) fail(`the device has no container named ${cns}_${cname}_*`);
  for (const n of crashNames) {
    const r = await fetch(`${DEVICE}/_sim/containers/${encodeURIComponent(n)}/crash`, { method: 'POST', headers: { Authorization: DEVICE_AUTH } });
    if (!r.ok) fail(`crashing ${n} on the device answered ${r.status}`);
  }
  const seenCrash = await until(`${crashKey} to show not ready, another phase or more restarts after the crash`, async () => {
    const ready = await cell('ready');
    const [r, n] = ready.split('/').map(Number);
    const phase = await cell('phase');
    const restarts = Number(await cell('restarts'));
    if (r < n) return `ready ${ready}`;
    if (phase !== before.phase) return `phase ${phase}`;
    if (restarts > before.restarts) return `restarts ${before.restarts} -> ${restarts}`;
    return false;
  });
  if (!(await page.evaluate(() => window.__noReload))) fail('the page reloaded');
  ok(`crash of ${crashNames.join(', ')} shows live on the pods page (was ${before.ready} ${before.phase}, saw ${seenCrash})`);

  // 4. Delete from the pod page.
  const [dns, dname] = delKey.split('/');
  restore = (podList.find((p) => podKey(p) === delKey));
  await go(`#/pod/${encodeURIComponent(dns)}/${encodeURIComponent(dname)}`);
  await page.waitForSelector('#pod-delete:not([disabled])', { timeout: 20000 });
  await until(`${delKey}'s page to show its containers`, () => page.$('#pod-containers tr[data-container]'), 20000);
  await shot('pod');
  if (!(await deviceContainers()).some((n) => n.startsWith(`${dns}_${dname}_`))) fail(`the device has no container of ${delKey} before the delete`);
  await page.click('#pod-delete');
  await until(`the device to have no container ${dns}_${dname}_*`, async () => {
    const left = (await deviceContainers()).filter((n) => n.startsWith(`${dns}_${dname}_`));
    return !left.length || 'still: ' + left.join(', ');
  });
  await until(`${delKey}'s page to show it gone`, () => page.$('#pod-gone'), 30000);
  await go('#/pods');
  await page.waitForSelector('#pods-table', { timeout: 10000 });
  await until(`the pods page to stop listing ${delKey}`, async () => !(await page.$(`#pods-table tr[data-pod="${delKey}"]`)));
  ok(`delete of ${delKey} removes its containers from the device and the pod from the page`);

  // 5. Admission refuses a pod; the dialog shows the API's message.
  const yaml = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: console-check-invalid\n  annotations:\n    vkube.io/network: no-such-network-${Date.now()}\nspec:\n  containers:\n  - name: app\n    image: 127.0.0.1:5000/hello:latest\n`;
  const direct = await api('/api/v1/namespaces/default/pods', { method: 'POST', headers: { 'Content-Type': 'application/yaml' }, body: yaml });
  if (direct.status < 400 || direct.status >= 500 || !direct.body.message) {
    if (direct.status < 300) await api('/api/v1/namespaces/default/pods/console-check-invalid', { method: 'DELETE' });
    fail(`the API did not refuse the invalid pod with a 4xx Status: ${direct.status} ${JSON.stringify(direct.body).slice(0, 200)}`);
  }
  await page.click('#nav-apply');
  await page.waitForSelector('#apply-yaml', { state: 'visible' });
  await page.fill('#apply-namespace', 'default');
  await page.fill('#apply-yaml', yaml);
  await page.click('#apply-submit');
  await until(`#apply-result to show "${direct.body.message}"`, async () => {
    const t = (await page.textContent('#apply-result')).trim();
    return t === direct.body.message || t;
  }, 15000);
  ok(`apply of an invalid pod shows the API's message (${direct.status}: ${direct.body.message})`);

  if (problems.length) fail('the console had errors:\n  ' + problems.join('\n  '));
  ok('no script errors or CSP violations');
} catch (e) {
  code = 1;
  console.log('not ok - ' + (e instanceof Failure ? e.message : e.stack || e));
  if (problems.length) console.log('# console errors:\n#   ' + problems.join('\n#   '));
} finally {
  await browser.close();
  if (restore && env.RESTORE !== '0') { // put the deleted pod back, so the demo can be checked again
    const m = restore.metadata;
    const annotations = { ...(m.annotations || {}) };
    delete annotations['kubectl.kubernetes.io/last-applied-configuration'];
    const spec = { ...restore.spec };
    delete spec.nodeName;
    const body = { apiVersion: 'v1', kind: 'Pod', metadata: { name: m.name, namespace: m.namespace, labels: m.labels, annotations }, spec };
    const r = await api(`/api/v1/namespaces/${m.namespace}/pods`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    note(`recreated ${podKey(restore)}: ${r.status}${r.status >= 300 ? ' ' + JSON.stringify(r.body).slice(0, 200) : ''}`);
  }
}
process.exit(code);
