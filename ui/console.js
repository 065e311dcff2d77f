// The mkube console (issue 18): plain JS, no framework, no inline script or style (strict CSP).
// Every figure comes from the API on the same origin, with the user's bearer token when one is
// known (sessionStorage). Lists are followed live with Kubernetes watches read through fetch.
'use strict';
(() => {
  const TOKEN_KEY = 'mkube.token';
  const S = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    needToken: false,
    gen: 0, // bumped on every page change / auth change; late async work checks it
    cleanup: [],
    metrics: [], // samples of /metrics for the plots
    nets: null, // network details (with dnsZone), cached per page visit
  };
  const PAGES = [
    ['site', 'Site'], ['pods', 'Pods'], ['networks', 'Networks'], ['images', 'Images'],
    ['consistency', 'Consistency'], ['events', 'Events'],
  ];
  const AREAS = ['pods', 'ipam', 'veths', 'dns', 'images', 'configmaps', 'lifecycle'];
  const PHASES = ['Running', 'Pending', 'Succeeded', 'Failed', 'Unknown'];

  // ---------- DOM helpers ----------
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v == null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'value') el.value = v;
        else if (k === 'checked') el.checked = !!v;
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    return add(el, kids);
  }
  function add(el, ...kids) {
    for (const k of kids.flat(Infinity)) {
      if (k == null || k === false) continue;
      el.append(k instanceof Node ? k : String(k));
    }
    return el;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function sv(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, String(v));
    for (const k of kids) if (k != null) el.append(k instanceof Node ? k : String(k));
    return el;
  }
  const $ = (sel, root) => (root || document).querySelector(sel);
  const clear = (el) => { while (el && el.firstChild) el.removeChild(el.firstChild); return el; };
  const fill = (el, ...kids) => add(clear(el), kids);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const esc = encodeURIComponent;

  // ---------- formatting ----------
  function age(ts) {
    if (!ts) return '';
    let s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
    if (s < 120) return s + 's';
    const m = Math.floor(s / 60);
    if (m < 120) return m + 'm';
    const hr = Math.floor(m / 60);
    if (hr < 48) return hr + 'h' + (hr < 10 && m % 60 ? (m % 60) + 'm' : '');
    return Math.floor(hr / 24) + 'd';
  }
  function qty(v) { // Kubernetes quantity -> bytes
    if (v == null) return null;
    const m = String(v).match(/^([0-9.]+)([KMGTE]i?|[kmgte])?$/);
    if (!m) return null;
    const mult = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, K: 1e3, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
    return parseFloat(m[1]) * (mult[m[2]] || 1);
  }
  function bytes(n) {
    if (n == null || isNaN(n)) return '—';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(n < 10 ? 1 : 0) : n) + ' ' + u[i];
  }
  const shortDigest = (d) => (d ? String(d).replace(/^.*sha256:/, '').slice(0, 12) : '');
  const time = (ts) => (ts ? String(ts).replace('T', ' ').replace(/\.\d+/, '').replace('Z', '') : '');
  function fmtNum(v) {
    if (v == null || !isFinite(v)) return '—';
    if (Number.isInteger(v)) return String(v);
    if (Math.abs(v) >= 100) return v.toFixed(0);
    if (Math.abs(v) >= 10) return v.toFixed(1);
    return (+v.toFixed(2)).toString();
  }
  const badge = (text, kind) => h('span', { class: 'badge b-' + String(kind || text).toLowerCase() }, text);

  // ---------- API ----------
  class ApiError extends Error {
    constructor(message, code) { super(message); this.code = code; }
  }
  async function statusError(resp) {
    let msg = resp.status + ' ' + (resp.statusText || 'error');
    try {
      const t = await resp.text();
      try {
        const j = JSON.parse(t);
        if (j && j.message) msg = j.message;
      } catch { if (t.trim()) msg = t.trim().slice(0, 600); }
    } catch { /* body unreadable */ }
    return new ApiError(msg, resp.status);
  }
  async function request(path, opts) {
    opts = opts || {};
    const headers = Object.assign({}, opts.headers || {});
    if (S.token) headers.Authorization = 'Bearer ' + S.token;
    let resp;
    try {
      resp = await fetch(path, Object.assign({}, opts, { headers, cache: 'no-store' }));
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError('cannot reach mkube: ' + e.message, 0);
    }
    if (resp.status === 401) {
      const err = await statusError(resp);
      authNeeded(err.message);
      throw new ApiError(err.message, 401);
    }
    if (!resp.ok) throw await statusError(resp);
    return resp;
  }
  const getJSON = async (p, o) => (await request(p, o)).json();
  const getText = async (p, o) => (await request(p, o)).text();

  async function readLines(resp, onLine) {
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (line) onLine(line);
        }
      }
      if (buf.trim()) onLine(buf.trim());
    } finally {
      reader.cancel().catch(() => {}); // aborted or already closed
    }
  }

  // A list followed by a watch; reconnects from the last resourceVersion, re-lists on 410.
  class Watched {
    constructor(opts) {
      Object.assign(this, opts);
      this.listeners = new Set();
      this.rv = null;
      this.loaded = false;
      this.state = 'idle';
      this.error = null;
    }
    subscribe(fn) {
      this.listeners.add(fn);
      this.start();
      return () => this.listeners.delete(fn);
    }
    emit(ev) {
      for (const fn of [...this.listeners]) {
        try { fn(ev); } catch (e) { console.error(e); }
      }
    }
    setState(st, err) {
      this.state = st;
      this.error = err || null;
      this.emit({ type: 'state' });
      updateConn();
    }
    start() {
      if (this.running || S.needToken) return;
      this.running = true;
      this.ctrl = new AbortController();
      this.loop(this.ctrl.signal);
    }
    stop() {
      this.running = false;
      if (this.ctrl) this.ctrl.abort();
    }
    reset() {
      this.stop();
      this.rv = null;
      this.loaded = false;
      this.clearItems();
    }
    async loop(signal) {
      let backoff = 1000;
      while (!signal.aborted) {
        try {
          if (this.rv == null) {
            const list = await getJSON(this.listUrl(), { signal });
            if (signal.aborted) return;
            this.rv = (list.metadata && list.metadata.resourceVersion) || '0';
            this.replace(list.items || []);
            this.loaded = true;
            this.emit({ type: 'list' });
          }
          const resp = await request(this.watchUrl(this.rv), { signal });
          this.setState('live');
          backoff = 1000;
          await readLines(resp, (line) => {
            let ev;
            try { ev = JSON.parse(line); } catch { return; }
            if (ev.type === 'ERROR') {
              const o = ev.object || {};
              throw new ApiError(o.message || 'watch error', o.code || 500);
            }
            const o = ev.object || {};
            const rv = o.seq != null ? String(o.seq) : o.metadata && o.metadata.resourceVersion;
            if (ev.type !== 'BOOKMARK') this.apply(ev.type, o);
            if (rv) this.rv = rv;
            if (ev.type !== 'BOOKMARK') this.emit({ type: ev.type, object: o });
          });
          if (signal.aborted) return;
          this.setState('reconnecting');
          await sleep(300);
        } catch (e) {
          if (signal.aborted || e.name === 'AbortError') return;
          if (e.code === 401) { this.running = false; return; }
          if (e.code === 410) { this.rv = null; continue; }
          this.setState('error', e);
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 15000);
        }
      }
    }
  }

  const podKey = (p) => p.metadata.namespace + '/' + p.metadata.name;
  const pods = new Watched({
    name: 'pods',
    items: new Map(),
    listUrl: () => '/api/v1/pods',
    watchUrl: (rv) => '/api/v1/pods?watch=true&allowWatchBookmarks=true&resourceVersion=' + esc(rv),
    clearItems() { this.items.clear(); },
    replace(items) {
      this.items.clear();
      for (const p of items) this.items.set(podKey(p), p);
    },
    apply(type, o) {
      if (!o.metadata) return;
      if (type === 'DELETED') this.items.delete(podKey(o));
      else this.items.set(podKey(o), o);
    },
  });
  const LOG_MAX = 5000;
  const feed = new Watched({
    name: 'log',
    items: [],
    listUrl: () => '/api/v1/log?limit=500',
    watchUrl: (rv) => '/api/v1/log?watch=true&allowWatchBookmarks=true&resourceVersion=' + esc(rv),
    clearItems() { this.items = []; },
    replace(items) { this.items = []; this.merge(items); },
    merge(items) {
      const seen = new Set(this.items.map((r) => r.seq));
      for (const r of items) if (!seen.has(r.seq)) this.items.push(r);
      this.items.sort((a, b) => a.seq - b.seq);
      if (this.items.length > LOG_MAX) this.items.splice(0, this.items.length - LOG_MAX);
    },
    apply(type, o) {
      if (o.seq == null) return;
      const last = this.items[this.items.length - 1];
      if (!last || o.seq > last.seq) this.items.push(o);
      else this.merge([o]);
      if (this.items.length > LOG_MAX) this.items.shift();
    },
  });
  const STORES = [pods, feed];

  function updateConn() {
    const el = $('#conn');
    if (!el) return;
    const active = STORES.filter((s) => s.running);
    let st = 'idle';
    let title = 'no live stream open';
    if (active.some((s) => s.state === 'error')) {
      st = 'error';
      title = active.filter((s) => s.error).map((s) => s.name + ': ' + s.error.message).join('; ');
    } else if (active.some((s) => s.state === 'reconnecting')) st = 'reconnecting';
    else if (active.length && active.every((s) => s.state === 'live')) { st = 'live'; title = 'watching ' + active.map((s) => s.name).join(', '); }
    el.className = 'conn conn-' + st;
    el.textContent = st;
    el.title = title;
  }

  // ---------- auth ----------
  function authNeeded(message) {
    if (S.needToken) { // already locked: only say why (keeps what the user typed)
      const msg = $('#token-message');
      if (msg && S.token) { msg.className = 'error'; msg.textContent = 'The token was refused: ' + (message || 'unauthorized'); }
      return;
    }
    S.needToken = true;
    S.gen++;
    for (const s of STORES) s.reset();
    runCleanup();
    S.metrics = [];
    S.nets = null;
    const dlg = $('#apply-dialog');
    if (dlg && dlg.open) dlg.close();
    renderToken(message);
  }
  function renderToken(message) {
    document.body.classList.add('locked');
    const page = $('#page');
    if (!page) return;
    const input = h('input', { id: 'token-input', type: 'password', autocomplete: 'off', placeholder: 'bearer token', 'aria-label': 'API token' });
    const msg = h('p', { id: 'token-message', class: S.token ? 'error' : 'muted' },
      S.token ? 'The token was refused: ' + (message || 'unauthorized') : 'This mkube asks for a token (api.tokenFile).');
    const form = h('form', { id: 'token-form', class: 'card token-card', onsubmit: onToken },
      h('h2', null, 'Sign in'), msg,
      h('div', { class: 'row' }, input, h('button', { type: 'submit', id: 'token-submit', class: 'primary' }, 'Use token')));
    fill(page, form);
    page.dataset.page = 'token';
    input.focus();
  }
  async function onToken(e) {
    e.preventDefault();
    const v = $('#token-input').value.trim();
    if (!v) return;
    S.token = v;
    const msg = $('#token-message');
    if (msg) { msg.className = 'muted'; msg.textContent = 'checking…'; }
    try {
      await getJSON('/api/v1/nodes');
    } catch (err) {
      if (err.code !== 401 && msg) { msg.className = 'error'; msg.textContent = err.message; }
      return; // a 401 re-rendered the form already
    }
    sessionStorage.setItem(TOKEN_KEY, v);
    S.needToken = false;
    $('#sign-out').classList.remove('hidden');
    document.body.classList.remove('locked');
    route();
  }
  function signOut() {
    S.token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    $('#sign-out').classList.add('hidden');
    for (const s of STORES) s.reset();
    route();
  }

  // ---------- shell ----------
  function shell() {
    const nav = h('nav', { id: 'nav', class: 'nav' },
      PAGES.map(([id, label]) => h('a', { href: '#/' + id, id: 'nav-' + id, 'data-testid': 'nav-' + id }, label)));
    const header = h('header', { class: 'top' },
      h('a', { class: 'brand', href: '#/site' }, h('img', { src: 'favicon.svg', alt: '' }), 'mkube'),
      nav,
      h('span', { class: 'spacer' }),
      h('button', { id: 'nav-apply', type: 'button', class: 'primary small', onclick: openApply }, 'Apply YAML'),
      h('span', { id: 'conn', class: 'conn conn-idle' }, 'idle'),
      h('button', { id: 'sign-out', type: 'button', class: 'small link' + (S.token ? '' : ' hidden'), title: 'forget the token', onclick: signOut }, 'sign out'));
    const app = $('#app');
    fill(app, header, h('div', { id: 'banner', class: 'banner hidden', role: 'alert' }),
      h('section', { id: 'page', class: 'page' }), applyDialog());
  }
  function banner(msg) {
    const b = $('#banner');
    if (!b) return;
    if (!msg) { b.classList.add('hidden'); clear(b); return; }
    fill(b, msg, h('button', { type: 'button', class: 'small link', onclick: () => banner('') }, 'dismiss'));
    b.classList.remove('hidden');
  }
  function runCleanup() {
    for (const f of S.cleanup.splice(0)) {
      try { f(); } catch (e) { console.error(e); }
    }
  }
  function onCleanup(f) { S.cleanup.push(f); }
  function every(ms, f) {
    const id = setInterval(f, ms);
    onCleanup(() => clearInterval(id));
  }
  function errorBox(e) {
    return h('div', { class: 'error-box', 'data-testid': 'error' }, e && e.message ? e.message : String(e));
  }
  // Runs an async loader for the current page; drops its result when the page changed.
  function live(fn) {
    const g = S.gen;
    return async (...a) => {
      try {
        return await fn(() => g === S.gen && !S.needToken, ...a);
      } catch (e) {
        if (e.name === 'AbortError' || e.code === 401 || g !== S.gen) return;
        throw e;
      }
    };
  }

  function route() {
    runCleanup();
    S.gen++;
    banner('');
    if (!$('#page')) shell();
    if (S.needToken) { renderToken(); return; }
    const parts = (location.hash || '').replace(/^#\/?/, '').split('/').map(decodeURIComponent);
    let name = parts[0] || 'pods';
    if (name === 'pod' && parts.length < 3) name = 'pods';
    const page = $('#page');
    clear(page);
    page.dataset.page = name;
    page.className = 'page page-' + name;
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('active', a.id === 'nav-' + name || (name === 'pod' && a.id === 'nav-pods'));
    }
    const fn = { site: pageSite, pods: pagePods, pod: pagePod, networks: pageNetworks, images: pageImages, consistency: pageConsistency, events: pageEvents }[name];
    document.title = 'mkube · ' + (name === 'pod' ? parts[2] : name);
    if (!fn) { add(page, h('div', { class: 'card' }, 'No such page: ', name)); return; }
    fn(page, parts.slice(1));
    updateConn();
  }

  function section(title, id, ...kids) {
    return h('section', { class: 'card', id },
      h('h2', null, title), kids);
  }
  function table(id, headers, rows, opts) {
    opts = opts || {};
    return h('table', { id, class: 'grid' + (opts.cls ? ' ' + opts.cls : '') },
      h('thead', null, h('tr', null, headers.map((x) => h('th', null, x)))),
      h('tbody', null, rows.length ? rows : h('tr', { class: 'empty' }, h('td', { colspan: headers.length }, opts.empty || 'none'))));
  }
  const kv = (pairs) => h('dl', { class: 'kv' }, pairs.filter((p) => p && p[1] != null && p[1] !== '').map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));

  // ---------- site ----------
  function conditionChips(node) {
    const conds = (node.status && node.status.conditions) || [];
    return h('div', { class: 'conds' }, conds.map((c) => h('span', {
      class: 'cond ' + (c.status === 'True' ? 'ok' : c.status === 'False' ? 'bad' : 'unk'),
      title: (c.reason || '') + (c.message ? ': ' + c.message : '') + (c.lastTransitionTime ? ' (since ' + time(c.lastTransitionTime) + ')' : ''),
      'data-cond': c.type,
    }, c.type + (c.status === 'True' ? '' : ' ✗'))));
  }
  function pageSite(page) {
    const nodesBox = h('div', { id: 'nodes', class: 'nodes' }, h('p', { class: 'muted' }, 'loading…'));
    const fleetBox = h('div', { id: 'fleet' });
    add(page, h('h1', null, 'Site'), fleetBox, nodesBox, plotsSection());
    const load = live(async (ok) => {
      let list;
      try { list = await getJSON('/api/v1/nodes'); } catch (e) { if (ok()) fill(nodesBox, errorBox(e)); return; }
      if (!ok()) return;
      const nodes = list.items || [];
      const podCount = {};
      for (const p of pods.items.values()) { const n = p.spec && p.spec.nodeName; podCount[n] = (podCount[n] || 0) + 1; }
      if (nodes.length > 1) {
        const ready = nodes.filter((n) => ((n.status || {}).conditions || []).some((c) => c.type === 'Ready' && c.status === 'True')).length;
        fill(fleetBox, h('p', { class: 'fleet-summary', 'data-testid': 'fleet' }, `Fleet of ${nodes.length} routers, ${ready} ready`));
      } else clear(fleetBox);
      fill(nodesBox, nodes.length ? nodes.map((n) => nodeCard(n, podCount[n.metadata.name] || 0)) : h('p', { class: 'muted' }, 'no nodes'), workloadCard());
    });
    onCleanup(pods.subscribe((ev) => { if (ev.type !== 'state') { const w = $('#workload'); if (w && pods.loaded) w.replaceWith(workloadCard()); } if (ev.type === 'list') load(); }));
    load();
    every(10000, load);
    startMetrics();
  }
  function workloadCard() {
    const all = [...pods.items.values()];
    const by = {};
    for (const p of all) by[podPhase(p)] = (by[podPhase(p)] || 0) + 1;
    const notReady = all.filter((p) => { const [r, n] = podReady(p); return r < n; });
    const nss = {};
    for (const p of all) nss[p.metadata.namespace] = (nss[p.metadata.namespace] || 0) + 1;
    const top = all.filter((p) => restarts(p) > 0).sort((a, b) => restarts(b) - restarts(a)).slice(0, 5);
    return h('article', { class: 'card', id: 'workload' },
      h('header', { class: 'node-head' }, h('h2', null, 'Workload'), h('a', { href: '#/pods', class: 'muted' }, all.length + ' pods')),
      kv([
        ['Phases', h('span', null, Object.entries(by).map(([k, v]) => [badge(k + ' ' + v, k), ' ']))],
        ['Namespaces', Object.entries(nss).sort().map(([k, v]) => k + ' (' + v + ')').join(', ')],
        ['Not ready', notReady.length ? h('span', null, notReady.map((p) => [podLink(p.metadata.namespace, p.metadata.name, podKey(p)), ' '])) : 'none'],
        ['Restarts', top.length ? h('span', null, top.map((p) => [podLink(p.metadata.namespace, p.metadata.name, podKey(p)), ' ' + restarts(p) + '  '])) : 'none'],
      ]));
  }
  function nodeCard(n, podCount) {
    const st = n.status || {};
    const info = st.nodeInfo || {};
    const cap = st.capacity || {};
    const alloc = st.allocatable || {};
    const labels = (n.metadata && n.metadata.labels) || {};
    const ready = (st.conditions || []).find((c) => c.type === 'Ready');
    const disk = cap['ephemeral-storage'] ? bytes(qty(cap['ephemeral-storage'])) + (alloc['ephemeral-storage'] ? ' (' + bytes(qty(alloc['ephemeral-storage'])) + ' allocatable)' : '') : null;
    const mem = cap.memory ? bytes(qty(cap.memory)) + (alloc.memory ? ' (' + bytes(qty(alloc.memory)) + ' allocatable)' : '') : null;
    const addrs = (st.addresses || []).filter((a) => a.type !== 'Hostname').map((a) => a.address).join(', ');
    return h('article', { class: 'card node', 'data-node': n.metadata.name, id: 'node-' + n.metadata.name },
      h('header', { class: 'node-head' },
        h('h2', null, n.metadata.name),
        ready ? badge(ready.status === 'True' ? 'Ready' : 'NotReady', ready.status === 'True' ? 'running' : 'failed') : null,
        h('span', { class: 'muted' }, labels['node.kubernetes.io/instance-type'] || '')),
      kv([
        ['Model', labels['node.kubernetes.io/instance-type'] || '—'],
        ['Architecture', info.architecture || labels['kubernetes.io/arch']],
        ['RouterOS', info.osImage || info.kernelVersion],
        ['Runtime', info.containerRuntimeVersion],
        ['Controller', info.kubeletVersion],
        ['CPU', cap.cpu ? cap.cpu + ' cores' : null],
        ['Memory', mem],
        ['Disk', disk],
        ['Address', addrs],
        ['Pods', String(podCount)],
        ['Registered', n.metadata.creationTimestamp ? time(n.metadata.creationTimestamp) + ' (' + age(n.metadata.creationTimestamp) + ')' : null],
      ]),
      h('h3', null, 'Conditions'),
      h('table', { class: 'grid compact conds-table' }, h('tbody', null, (st.conditions || []).map((c) => h('tr', { 'data-cond': c.type },
        h('td', null, c.type), h('td', null, badge(c.status === 'True' ? 'ok' : c.status, c.status === 'True' ? 'running' : 'failed')),
        h('td', null, c.reason || ''), h('td', { class: 'muted' }, c.message || ''))))));
  }

  // ---------- metrics plots ----------
  function parseMetrics(text) {
    const out = [];
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const m = line.match(/^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/);
      if (!m) continue;
      const labels = {};
      if (m[3]) for (const l of m[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
      out.push({ name: m[1], labels, value: parseFloat(m[4]) });
    }
    return out;
  }
  function sumOf(ms, name, pred) {
    let s = 0; let found = false;
    for (const m of ms) if (m.name === name && (!pred || pred(m.labels))) { s += m.value; found = true; }
    return found ? s : null;
  }
  async function sampleMetrics() {
    const text = await getText('/metrics');
    const ms = parseMetrics(text);
    const sample = { t: Date.now(), phases: {} };
    for (const p of PHASES) sample.phases[p] = sumOf(ms, 'mkube_pods', (l) => l.phase === p);
    sample.recSum = sumOf(ms, 'mkube_reconcile_pass_seconds_sum');
    sample.recCount = sumOf(ms, 'mkube_reconcile_pass_seconds_count');
    sample.rosSum = sumOf(ms, 'mkube_routeros_call_seconds_sum') ?? sumOf(ms, 'mkube_routeros_request_seconds_sum');
    sample.rosCount = sumOf(ms, 'mkube_routeros_call_seconds_count') ?? sumOf(ms, 'mkube_routeros_request_seconds_count');
    sample.rosErr = sumOf(ms, 'mkube_routeros_calls_total', (l) => l.outcome && l.outcome !== 'ok');
    S.metrics.push(sample);
    if (S.metrics.length > 180) S.metrics.shift();
  }
  function plotsSection() {
    return section('Metrics (sampled every 5 s while this page is open)', 'plots',
      h('div', { class: 'plots' },
        h('figure', { id: 'plot-pods', class: 'plot' }),
        h('figure', { id: 'plot-reconcile', class: 'plot' }),
        h('figure', { id: 'plot-routeros', class: 'plot' })),
      h('p', { id: 'plots-error', class: 'error hidden' }));
  }
  function startMetrics() {
    const tick = live(async (ok) => {
      const err = $('#plots-error');
      try {
        await sampleMetrics();
        if (err) err.classList.add('hidden');
      } catch (e) {
        if (!ok()) return;
        if (err) { err.textContent = 'metrics: ' + e.message; err.classList.remove('hidden'); }
      }
      if (ok()) drawPlots();
    });
    tick();
    every(5000, tick);
  }
  function rate(samples, sumK, cntK) { // average per event between consecutive samples, in ms
    const pts = [];
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1]; const b = samples[i];
      const dc = b[cntK] - a[cntK];
      if (a[cntK] != null && b[cntK] != null && dc > 0) pts.push([b.t, ((b[sumK] - a[sumK]) / dc) * 1000]);
    }
    return pts; // intervals without a pass or call are left out: the line joins its neighbours
  }
  function drawPlots() {
    const sm = S.metrics;
    const phaseSeries = PHASES.map((p) => ({ name: p, cls: 's-' + p.toLowerCase(), pts: sm.map((x) => [x.t, x.phases[p]]) }))
      .filter((s) => s.name === 'Running' || s.pts.some((p) => p[1]));
    plot($('#plot-pods'), 'Pods by phase', '', phaseSeries, { integer: true });
    plot($('#plot-reconcile'), 'Reconcile pass duration', 'ms', [{ name: 'mean per pass', cls: 's-a', pts: rate(sm, 'recSum', 'recCount') }]);
    plot($('#plot-routeros'), 'RouterOS call latency', 'ms', [{ name: 'mean per call', cls: 's-b', pts: rate(sm, 'rosSum', 'rosCount') }]);
  }
  function plot(fig, title, unit, series, opts) {
    if (!fig) return;
    opts = opts || {};
    const W = 320; const H = 120; const L = 34; const R = 6; const T = 8; const B = 18;
    const all = series.flatMap((s) => s.pts).filter((p) => p[1] != null);
    const last = series.map((s) => { const p = s.pts.filter((q) => q[1] != null); return p.length ? p[p.length - 1][1] : null; });
    const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title });
    let max = Math.max(0, ...all.map((p) => p[1]));
    max = max <= 0 ? 1 : opts.integer ? Math.max(1, Math.ceil(max)) : niceMax(max);
    const tMax = Date.now(); const tMin = tMax - 15 * 60 * 1000;
    const t0 = Math.max(tMin, Math.min(...all.map((p) => p[0]), tMax - 60000));
    const x = (t) => L + ((t - t0) / Math.max(1, tMax - t0)) * (W - L - R);
    const y = (v) => T + (1 - v / max) * (H - T - B);
    for (const f of [0, 0.5, 1]) {
      svg.append(sv('line', { x1: L, x2: W - R, y1: y(max * f), y2: y(max * f), class: 'gridline' }));
      svg.append(sv('text', { x: L - 4, y: y(max * f) + 3, class: 'axis', 'text-anchor': 'end' }, fmtNum(max * f)));
    }
    svg.append(sv('text', { x: L, y: H - 4, class: 'axis' }, new Date(t0).toLocaleTimeString()));
    svg.append(sv('text', { x: W - R, y: H - 4, class: 'axis', 'text-anchor': 'end' }, 'now'));
    for (const s of series) {
      let seg = [];
      const flush = () => {
        if (seg.length === 1) svg.append(sv('circle', { cx: seg[0][0], cy: seg[0][1], r: 2, class: 'dot ' + s.cls }));
        else if (seg.length > 1) svg.append(sv('polyline', { points: seg.map((p) => p.join(',')).join(' '), class: 'line ' + s.cls }));
        seg = [];
      };
      for (const [t, v] of s.pts) {
        if (v == null || t < t0) { flush(); continue; }
        seg.push([x(t).toFixed(1), y(v).toFixed(1)]);
      }
      flush();
    }
    fill(fig,
      h('figcaption', null, title, unit ? h('span', { class: 'muted' }, ' (' + unit + ')') : null),
      svg,
      h('div', { class: 'legend' }, series.map((s, i) => h('span', { class: 'key' },
        h('i', { class: 'swatch ' + s.cls }), s.name + ': ', h('b', null, last[i] == null ? '—' : fmtNum(last[i]))))),
      all.length ? null : h('div', { class: 'muted small' }, 'collecting samples…'));
  }
  function niceMax(v) {
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  // ---------- pods ----------
  function podReady(p) {
    const cs = (p.status && p.status.containerStatuses) || [];
    const n = ((p.spec && p.spec.containers) || []).length || cs.length;
    return [cs.filter((c) => c.ready).length, n];
  }
  function podPhase(p) {
    if (p.metadata && p.metadata.deletionTimestamp) return 'Terminating';
    return (p.status && p.status.phase) || 'Unknown';
  }
  function podReason(p) {
    const cs = (p.status && p.status.containerStatuses) || [];
    for (const c of cs) {
      const st = c.state || {};
      if (st.waiting && st.waiting.reason) return st.waiting.reason;
      if (st.terminated && st.terminated.reason) return st.terminated.reason;
    }
    return (p.status && p.status.reason) || '';
  }
  const restarts = (p) => ((p.status && p.status.containerStatuses) || []).reduce((a, c) => a + (c.restartCount || 0), 0);
  function podImages(p) {
    const cs = (p.status && p.status.containerStatuses) || [];
    const spec = (p.spec && p.spec.containers) || [];
    return spec.map((c) => {
      const st = cs.find((x) => x.name === c.name) || {};
      return { name: c.name, image: c.image || st.image, digest: st.imageID || '' };
    });
  }
  const podLink = (ns, name, text) => h('a', { href: '#/pod/' + esc(ns) + '/' + esc(name) }, text || name);

  function pagePods(page) {
    const filter = h('input', { id: 'pods-filter', type: 'search', placeholder: 'filter: name, namespace, image, phase…', value: sessionStorage.getItem('mkube.podsFilter') || '' });
    const nsSel = h('select', { id: 'pods-namespace', 'aria-label': 'namespace' });
    const phSel = h('select', { id: 'pods-phase', 'aria-label': 'phase' },
      h('option', { value: '' }, 'all phases'), [...PHASES, 'Terminating'].map((p) => h('option', { value: p }, p)));
    const count = h('span', { id: 'pods-count', class: 'muted' });
    const tbody = h('tbody');
    const tbl = h('table', { id: 'pods-table', class: 'grid' },
      h('thead', null, h('tr', null, ['Name', 'Namespace', 'Node', 'Phase', 'Ready', 'Restarts', 'IP', 'Image', 'Digest', 'Age'].map((x) => h('th', null, x)))),
      tbody);
    const status = h('div', { id: 'pods-status' });
    add(page, h('div', { class: 'page-head' }, h('h1', null, 'Pods'), count),
      h('div', { class: 'toolbar' }, filter, nsSel, phSel), status, h('div', { class: 'card flush' }, tbl));
    const render = () => {
      if (S.needToken) return;
      if (pods.error && !pods.loaded) fill(status, errorBox(pods.error)); else clear(status);
      const all = [...pods.items.values()];
      const nss = [...new Set(all.map((p) => p.metadata.namespace))].sort();
      const curNs = nsSel.value;
      fill(nsSel, h('option', { value: '' }, 'all namespaces'), nss.map((n) => h('option', { value: n }, n)));
      nsSel.value = nss.includes(curNs) ? curNs : '';
      const q = filter.value.trim().toLowerCase();
      const rows = all.filter((p) => {
        if (nsSel.value && p.metadata.namespace !== nsSel.value) return false;
        if (phSel.value && podPhase(p) !== phSel.value) return false;
        if (!q) return true;
        const hay = [p.metadata.name, p.metadata.namespace, podPhase(p), p.spec && p.spec.nodeName, p.status && p.status.podIP,
          ...podImages(p).map((i) => i.image + ' ' + i.digest)].join(' ').toLowerCase();
        return q.split(/\s+/).every((w) => hay.includes(w));
      }).sort((a, b) => podKey(a).localeCompare(podKey(b)));
      count.textContent = pods.loaded ? `${rows.length} of ${all.length}` : 'loading…';
      fill(tbody, rows.length ? rows.map(podRow) : h('tr', { class: 'empty' }, h('td', { colspan: 10 }, pods.loaded ? 'no pods' : 'loading…')));
    };
    filter.addEventListener('input', () => { sessionStorage.setItem('mkube.podsFilter', filter.value); render(); });
    nsSel.addEventListener('change', render);
    phSel.addEventListener('change', render);
    onCleanup(pods.subscribe(render));
    every(5000, render); // ages
    render();
  }
  function podRow(p) {
    const [r, n] = podReady(p);
    const ph = podPhase(p);
    const reason = podReason(p);
    const imgs = podImages(p);
    return h('tr', { 'data-pod': podKey(p), class: r < n ? 'notready' : '' },
      h('td', { class: 'name' }, podLink(p.metadata.namespace, p.metadata.name)),
      h('td', null, p.metadata.namespace),
      h('td', null, (p.spec && p.spec.nodeName) || ''),
      h('td', { 'data-testid': 'phase' }, badge(ph), reason && reason !== ph ? h('span', { class: 'reason' }, reason) : null),
      h('td', { 'data-testid': 'ready', class: 'num ' + (r < n ? 'warn' : '') }, r + '/' + n),
      h('td', { 'data-testid': 'restarts', class: 'num' }, String(restarts(p))),
      h('td', { class: 'mono' }, (p.status && p.status.podIP) || ''),
      h('td', { class: 'mono trunc', title: imgs.map((i) => i.image).join('\n') }, imgs.map((i) => i.image).join(', ')),
      h('td', { class: 'mono', title: imgs.map((i) => i.digest).join('\n') }, imgs.map((i) => shortDigest(i.digest)).filter(Boolean).join(', ')),
      h('td', { class: 'num', title: p.metadata.creationTimestamp || '' }, age(p.metadata.creationTimestamp)));
  }

  // ---------- pod ----------
  async function networkDetails() {
    if (S.nets) return S.nets;
    const list = await getJSON('/api/v1/networks');
    const out = await Promise.all((Array.isArray(list) ? list : list.items || []).map(async (n) => {
      try { return Object.assign({}, n, await getJSON('/api/v1/networks/' + esc(n.name))); } catch (e) { if (e.code === 401) throw e; return n; }
    }));
    S.nets = out;
    setTimeout(() => { S.nets = null; }, 15000);
    return out;
  }
  function pagePod(page, [ns, name]) {
    const key = ns + '/' + name;
    const del = h('button', { id: 'pod-delete', type: 'button', class: 'danger' }, 'Delete');
    const head = h('div', { class: 'page-head' },
      h('h1', null, h('a', { href: '#/pods', class: 'muted' }, 'Pods'), ' / ', ns, ' / ', name),
      h('span', { id: 'pod-phase', 'data-testid': 'phase' }), h('span', { class: 'spacer' }), del);
    const status = h('div', { id: 'pod-status' });
    const summary = h('div', { id: 'pod-summary' });
    const conts = h('div', { id: 'pod-containers' });
    const netBox = h('div', { id: 'pod-network' }, h('p', { class: 'muted' }, 'loading…'));
    const evBox = h('div', { id: 'pod-events' }, h('p', { class: 'muted' }, 'loading…'));
    const logSel = h('select', { id: 'pod-log-container', 'aria-label': 'container' });
    const logPre = h('pre', { id: 'pod-log', class: 'log' }, 'loading…');
    const logBtn = h('button', { id: 'pod-log-refresh', type: 'button', class: 'small' }, 'Refresh');
    add(page, head, status,
      h('div', { class: 'cols' },
        section('Pod', 'pod-summary-card', summary),
        section('Network and DNS', 'pod-network-card', netBox)),
      section('Containers', 'pod-containers-card', conts),
      section('Events', 'pod-events-card', evBox),
      h('section', { class: 'card', id: 'pod-log-card' },
        h('div', { class: 'card-head' }, h('h2', null, 'Log'), logSel, logBtn, h('span', { class: 'muted', id: 'pod-log-when' })),
        logPre));
    let deleting = false;
    let seen = null;
    let fetched = false;
    const render = () => {
      if (S.needToken) return;
      const p = pods.items.get(key) || (!pods.loaded ? seen : null);
      if (!p) {
        if (pods.loaded && (seen || deleting)) {
          fill(status, h('div', { id: 'pod-gone', class: 'notice', 'data-testid': 'gone' }, `Pod ${key} is gone${deleting ? ' (deleted)' : ''}.`));
          fill($('#pod-phase'), badge('Deleted', 'failed'));
          summary.classList.add('gone');
          del.disabled = true;
          const rows = conts.querySelectorAll('tr[data-container]');
          for (const r of rows) r.classList.add('gone');
        } else if (pods.loaded && !fetched) {
          fetched = true;
          live(async (ok) => {
            try { const got = await getJSON(`/api/v1/namespaces/${esc(ns)}/pods/${esc(name)}`); if (ok()) { seen = got; pods.items.set(key, got); render(); } } catch (e) {
              if (ok()) fill(status, h('div', { id: 'pod-gone', class: 'notice', 'data-testid': 'gone' }, e.message));
            }
          })();
        }
        return;
      }
      seen = p;
      if (!deleting || p.metadata.deletionTimestamp) clear(status);
      if (deleting) add(clear(status), h('div', { class: 'notice', id: 'pod-deleting' }, 'Deleting… waiting for mkube to remove the containers.'));
      fill($('#pod-phase'), badge(podPhase(p)));
      const a = p.metadata.annotations || {};
      const [r, n] = podReady(p);
      fill(summary, kv([
        ['Namespace', ns], ['Node', p.spec && p.spec.nodeName], ['Phase', podPhase(p) + (podReason(p) ? ' (' + podReason(p) + ')' : '')],
        ['Ready', h('span', { 'data-testid': 'ready' }, r + '/' + n)], ['Restarts', String(restarts(p))],
        ['Pod IP', (p.status && p.status.podIP) || '—'], ['Host IP', p.status && p.status.hostIP],
        ['Created', time(p.metadata.creationTimestamp) + ' (' + age(p.metadata.creationTimestamp) + ' ago)'],
        ['Started', p.status && p.status.startTime ? time(p.status.startTime) : null],
        ['Restart policy', p.spec && p.spec.restartPolicy],
        ...Object.entries(a).filter(([k]) => k.startsWith('vkube.io/')).map(([k, v]) => [k.replace('vkube.io/', ''), v]),
        ['UID', h('span', { class: 'mono small' }, p.metadata.uid || '')],
      ]));
      const cs = (p.status && p.status.containerStatuses) || [];
      const spec = (p.spec && p.spec.containers) || [];
      fill(conts, table('pod-containers-table', ['Container', 'State', 'Reason', 'Ready', 'Restarts', 'Image', 'Digest', 'Since'],
        spec.map((c) => {
          const st = cs.find((x) => x.name === c.name) || {};
          const s = st.state || {};
          const [kind, detail] = s.running ? ['running', s.running] : s.waiting ? ['waiting', s.waiting] : s.terminated ? ['terminated', s.terminated] : ['unknown', {}];
          const last = st.lastState && st.lastState.terminated;
          return h('tr', { 'data-container': c.name },
            h('td', { class: 'name' }, c.name),
            h('td', null, badge(kind, kind === 'running' ? 'running' : kind === 'waiting' ? 'pending' : 'failed')),
            h('td', null, [detail.reason, detail.message, detail.exitCode != null ? 'exit ' + detail.exitCode : null].filter((x) => x != null && x !== '').join(': '),
              last ? h('div', { class: 'muted small' }, 'last: ' + [last.reason, last.exitCode != null ? 'exit ' + last.exitCode : null, time(last.finishedAt)].filter(Boolean).join(', ')) : null),
            h('td', { 'data-testid': 'ready' }, st.ready ? 'yes' : 'no'),
            h('td', { class: 'num' }, String(st.restartCount || 0)),
            h('td', { class: 'mono' }, c.image || st.image || ''),
            h('td', { class: 'mono', title: st.imageID || '' }, shortDigest(st.imageID)),
            h('td', null, time(detail.startedAt || detail.finishedAt || '')));
        })));
      const names = spec.map((c) => c.name);
      if ([...logSel.options].map((o) => o.value).join() !== names.join()) {
        const cur = logSel.value;
        fill(logSel, names.map((x) => h('option', { value: x }, x)));
        if (names.includes(cur)) logSel.value = cur;
        if (!cur) loadLog();
      }
    };
    const loadLog = live(async (ok) => {
      const c = logSel.value;
      try {
        const t = await getText(`/api/v1/namespaces/${esc(ns)}/pods/${esc(name)}/log?tailLines=100` + (c ? '&container=' + esc(c) : ''));
        if (!ok()) return;
        logPre.textContent = t || '(empty)';
        logPre.scrollTop = logPre.scrollHeight;
        $('#pod-log-when').textContent = 'at ' + new Date().toLocaleTimeString();
      } catch (e) { if (ok()) logPre.textContent = 'log: ' + e.message; }
    });
    const loadEvents = live(async (ok) => {
      let list;
      try { list = await getJSON(`/api/v1/namespaces/${esc(ns)}/events`); } catch (e) { if (ok()) fill(evBox, errorBox(e)); return; }
      if (!ok()) return;
      const cur = pods.items.get(key) || seen;
      const uid = cur && cur.metadata.uid;
      const evs = (list.items || []).filter((e) => e.involvedObject && e.involvedObject.name === name && (!e.involvedObject.kind || e.involvedObject.kind === 'Pod') &&
        (!uid || !e.involvedObject.uid || e.involvedObject.uid === uid)) // not an earlier pod of that name
        .sort((a, b) => String(b.lastTimestamp || b.eventTime).localeCompare(String(a.lastTimestamp || a.eventTime)));
      fill(evBox, table('pod-events-table', ['Last seen', 'Type', 'Reason', 'Message', 'Count'], evs.map((e) => h('tr', { class: e.type === 'Warning' ? 'warnrow' : '' },
        h('td', { class: 'nowrap', title: e.lastTimestamp || e.eventTime }, time(e.lastTimestamp || e.eventTime)),
        h('td', null, badge(e.type || 'Normal')), h('td', null, e.reason || ''), h('td', null, e.message || ''), h('td', { class: 'num' }, String(e.count || 1)))), { empty: 'no events' }));
    });
    const actBox = h('div', { id: 'pod-activity' });
    evBox.after(actBox);
    const loadActivity = live(async (ok) => {
      let items;
      try {
        const rs = await Promise.all(['pods', 'lifecycle'].map((a) => getJSON('/api/v1/log?limit=300&area=' + a)));
        items = rs.flatMap((r) => r.items || []).sort((a, b) => a.seq - b.seq);
      } catch (e) { if (ok()) fill(actBox, errorBox(e)); return; }
      if (!ok()) return;
      const unit = `${ns}_${name}_`;
      const mine = items.filter((x) => {
        const t = (x.subject || '').split('.');
        const pl = x.payload || {};
        return (t[2] === 'pods' && t[3] === ns && t[4] === name) || (t[2] === 'lifecycle' && String(t[3]).startsWith(unit)) ||
          (pl.namespace === ns && pl.name === name) || pl.pod === key;
      }).slice(-25).reverse();
      fill(actBox, h('h3', null, 'mkube event log'), table('pod-activity-table', ['#', 'Time', 'Kind', 'Payload'], mine.map((x) => h('tr', { 'data-seq': x.seq },
        h('td', { class: 'num muted' }, String(x.seq)), h('td', { class: 'nowrap' }, time(x.time)), h('td', { class: 'mono' }, x.kind),
        h('td', { class: 'mono small' }, summarize(x.payload)))), { empty: 'no records', cls: 'compact' }));
    });
    const loadNet = live(async (ok) => {
      let nets; let allocs = {};
      try { [nets, allocs] = await Promise.all([networkDetails(), getJSON('/api/v1/allocations')]); } catch (e) { if (ok()) fill(netBox, errorBox(e)); return; }
      if (!ok()) return;
      const p = pods.items.get(key) || seen;
      const prefix = `veth_${ns}_${name}_`;
      const veths = Object.entries(allocs || {}).filter(([v]) => v.startsWith(prefix));
      const wanted = p && p.metadata.annotations && p.metadata.annotations['vkube.io/network'];
      const rows = [];
      const dns = [];
      for (const [veth, ip] of veths) {
        const net = nets.find((n) => (n.ports || []).some((x) => x.name === veth)) || nets.find((n) => n.name === wanted);
        const port = net && (net.ports || []).find((x) => x.name === veth);
        rows.push(h('tr', { 'data-veth': veth }, h('td', { class: 'mono' }, veth), h('td', { class: 'mono' }, typeof ip === 'string' ? ip : JSON.stringify(ip)),
          h('td', null, net ? h('a', { href: '#/networks' }, net.name) : '—'), h('td', null, net ? net.bridge : ''), h('td', { class: 'mono' }, port ? port.hostname : '')));
        if (net && net.dnsZone) {
          dns.push(name + '.' + net.dnsZone);
          if (port && port.hostname && port.hostname !== name) dns.push(port.hostname + '.' + net.dnsZone);
        }
      }
      if (!veths.length && wanted) {
        const net = nets.find((n) => n.name === wanted);
        if (net && net.dnsZone) dns.push(name + '.' + net.dnsZone);
      }
      fill(netBox,
        table('pod-veths', ['Veth', 'Address', 'Network', 'Bridge', 'Hostname'], rows, { empty: 'no veth allocated' }),
        h('h3', null, 'DNS names'),
        dns.length ? h('ul', { id: 'pod-dns', class: 'plain' }, [...new Set(dns)].map((d) => h('li', { class: 'mono', 'data-dns': d }, d, h('span', { class: 'dns-st' })))) : h('p', { class: 'muted', id: 'pod-dns' }, 'no DNS zone for this pod\'s network'));
      if (dns.length) loadDnsStatus(nets);
    });
    let dnsChecks = null;
    const loadDnsStatus = live(async (ok, nets) => {
      if (!dnsChecks) {
        try { dnsChecks = (await getJSON('/api/v1/dns/validate')).checks || []; } catch { return; }
      }
      if (!ok()) return;
      for (const li of document.querySelectorAll('#pod-dns li[data-dns]')) {
        const fq = li.dataset.dns;
        const net = nets.find((n) => n.dnsZone && fq.endsWith('.' + n.dnsZone));
        if (!net) continue;
        const rel = fq.slice(0, -net.dnsZone.length - 1);
        const c = dnsChecks.find((x) => x.name === `zone/${net.name}/pod/${rel}`);
        if (c) fill(li.querySelector('.dns-st'), badge(c.status, c.status === 'pass' ? 'running' : 'failed'), ' ', h('span', { class: 'muted small' }, [c.message, c.details].filter(Boolean).join(', ')));
      }
    });
    logBtn.addEventListener('click', loadLog);
    logSel.addEventListener('change', loadLog);
    del.addEventListener('click', live(async (ok) => {
      if (!confirm(`Delete pod ${key}? mkube removes its containers from the router.`)) return;
      del.disabled = true;
      fill(status, h('div', { class: 'notice', id: 'pod-deleting' }, 'Deleting…'));
      try {
        await request(`/api/v1/namespaces/${esc(ns)}/pods/${esc(name)}`, { method: 'DELETE' });
        deleting = true;
        if (ok()) render();
      } catch (e) {
        del.disabled = false;
        if (ok()) fill(status, errorBox(e));
      }
    }));
    onCleanup(pods.subscribe((ev) => {
      if (ev.type === 'list' || (ev.object && ev.object.metadata && podKey(ev.object) === key) || ev.type === 'state') render();
    }));
    render();
    loadEvents(); loadNet(); loadActivity();
    every(5000, loadEvents);
    every(10000, loadActivity);
    every(15000, loadNet);
  }

  // ---------- networks ----------
  const ip2n = (s) => s.split('.').reduce((a, o) => a * 256 + (+o), 0);
  function pageNetworks(page) {
    const box = h('div', { id: 'networks' }, h('p', { class: 'muted' }, 'loading…'));
    const dnsBox = section('DNS zone health', 'dns-health', h('p', { class: 'muted' }, 'checking the zones…'));
    add(page, h('h1', null, 'Networks'), box, dnsBox);
    const load = live(async (ok) => {
      let nets; let allocs;
      S.nets = null;
      try { [nets, allocs] = await Promise.all([networkDetails(), getJSON('/api/v1/allocations')]); } catch (e) { if (ok()) fill(box, errorBox(e)); return; }
      if (!ok()) return;
      fill(box, nets.length ? nets.map((n) => networkCard(n, allocs || {})) : h('p', { class: 'muted' }, 'no networks'));
    });
    const loadDns = live(async (ok) => {
      let r;
      try { r = await getJSON('/api/v1/dns/validate'); } catch (e) { if (ok()) fill(dnsBox, h('h2', null, 'DNS zone health'), errorBox(e)); return; }
      if (ok()) fill(dnsBox, h('h2', null, 'DNS zone health'), report(r, 'dns'));
    });
    onCleanup(pods.subscribe((ev) => { if (ev.type === 'list') load(); })); // pod links of the veths
    load(); loadDns();
    every(10000, load);
    every(30000, loadDns);
  }
  function networkCard(n, allocs) {
    const ports = n.ports || [];
    const portNames = new Set(ports.map((p) => p.name));
    const extra = Object.entries(allocs).filter(([v, ip]) => !portNames.has(v) && typeof ip === 'string' && inCidr(ip, n.cidr));
    const all = ports.concat(extra.map(([v, ip]) => ({ name: v, ip })));
    const u = n.ipam; // the dynamic range's usage, as IPAM counts it
    const podOf = (veth) => {
      const m = /^veth_(.+)_(\d+)$/.exec(veth || '');
      if (!m) return null;
      for (const p of pods.items.values()) if (m[1] === p.metadata.namespace + '_' + p.metadata.name) return p;
      return null;
    };
    const rangeText = u ? u.freeRuns.map(([a, b]) => (a === b ? a : a + ' – ' + b)).join(', ') + (u.free > 0 && u.freeRuns.length >= 64 ? ', …' : '') : '—';
    return h('article', { class: 'card network', 'data-network': n.name, id: 'network-' + n.name },
      h('header', { class: 'node-head' }, h('h2', null, n.name), h('span', { class: 'mono muted' }, n.cidr || '')),
      kv([
        ['CIDR', n.cidr], ['Gateway', n.gateway], ['Bridge', n.bridge], ['DNS zone', n.dnsZone || '—'],
        ['IPAM range', u ? h('span', { class: 'mono' }, u.first + ' – ' + u.last) : '—'],
        ['Used', h('span', { 'data-testid': 'used' }, u ? `${u.used} of ${u.size}` + (all.length > u.used ? ` (+${all.length - u.used} outside the range)` : '') : String(all.length))],
        ['Free', h('span', { 'data-testid': 'free' }, u ? String(u.free) : '—')],
        ['Free addresses', h('span', null, h('span', { class: 'mono small', 'data-testid': 'free-addresses' }, rangeText || 'none'),
          h('div', { class: 'muted small' }, 'addresses of the IPAM range that are neither held nor the gateway'))],
      ]),
      table('allocations-' + n.name, ['Veth', 'Address', 'Hostname', 'Pod'], all.sort((a, b) => ip2n(a.ip || '0.0.0.0') - ip2n(b.ip || '0.0.0.0')).map((p) => {
        const pod = podOf(p.name);
        return h('tr', { 'data-veth': p.name }, h('td', { class: 'mono' }, p.name), h('td', { class: 'mono' }, p.ip || ''),
          h('td', { class: 'mono' }, p.hostname || ''), h('td', null, pod ? podLink(pod.metadata.namespace, pod.metadata.name, podKey(pod)) : ''));
      }), { empty: 'no allocations', cls: 'compact' }));
  }
  function inCidr(ip, cidr) {
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr || '');
    if (!m || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
    const size = 2 ** (32 - +m[2]);
    return Math.floor(ip2n(ip) / size) === Math.floor(ip2n(m[1]) / size);
  }

  // ---------- reports (consistency, DNS) ----------
  function report(r, id) {
    const sum = r.summary || {};
    let groups = r.checks || [];
    if (!Array.isArray(groups)) groups = Object.entries(groups).map(([g, cs]) => [g, cs || []]);
    else groups = [['checks', groups]];
    const onlyBad = h('input', { type: 'checkbox', id: id + '-problems' });
    const body = h('div', { class: 'groups' });
    const draw = () => {
      fill(body, groups.map(([g, cs]) => {
        const rank = { fail: 0, warn: 1, pass: 2 };
        const shown = cs.filter((c) => !onlyBad.checked || c.status !== 'pass').sort((a, b) => (rank[a.status] ?? 1) - (rank[b.status] ?? 1));
        if (!shown.length && onlyBad.checked) return null;
        const bad = cs.filter((c) => c.status !== 'pass').length;
        return h('div', { class: 'group', 'data-group': g },
          groups.length > 1 ? h('h3', null, g, h('span', { class: 'muted' }, ` · ${cs.length} check${cs.length === 1 ? '' : 's'}${bad ? ', ' + bad + ' not passing' : ''}`)) : null,
          table(null, ['Status', 'Check', 'Message', 'Details'], shown.map((c) => h('tr', { class: 'st-' + c.status, 'data-check': c.name || '' },
            h('td', null, badge(c.status || '?', c.status === 'pass' ? 'running' : c.status === 'warn' ? 'pending' : 'failed')),
            h('td', { class: 'mono' }, c.name || ''), h('td', null, c.message || ''),
            h('td', { class: 'mono small' }, c.details == null ? '' : typeof c.details === 'string' ? c.details : JSON.stringify(c.details)))), { cls: 'compact' }));
      }));
    };
    onlyBad.addEventListener('change', draw);
    draw();
    return h('div', { class: 'report', id: id + '-report' },
      h('div', { class: 'summary', id: id + '-summary', 'data-testid': 'summary' },
        ['pass', 'warn', 'fail'].map((k) => h('span', { class: 'sum sum-' + k + (sum[k] ? ' nz' : ''), 'data-testid': 'summary-' + k }, h('b', null, String(sum[k] ?? 0)), ' ' + k)),
        h('span', { class: 'muted' }, r.timestamp ? ' at ' + time(r.timestamp) : ''),
        h('label', { class: 'check' }, onlyBad, ' only problems')),
      body);
  }
  function pageConsistency(page) {
    const box = h('div', { id: 'consistency' }, h('p', { class: 'muted' }, 'running the checks…'));
    const refresh = h('button', { id: 'consistency-refresh', type: 'button' }, 'Check again');
    const repair = h('button', { id: 'repair', type: 'button', class: 'danger' }, 'Repair');
    const result = h('div', { id: 'repair-result', class: 'result' });
    add(page, h('div', { class: 'page-head' }, h('h1', null, 'Consistency'), h('span', { class: 'spacer' }), refresh, repair),
      h('p', { class: 'muted' }, 'mkube compares its records with the router, the IPAM and the DNS zones. Repair releases addresses no pod holds any more.'),
      result, h('section', { class: 'card' }, box));
    const load = live(async (ok) => {
      refresh.disabled = true;
      try {
        const r = await getJSON('/api/v1/consistency');
        if (ok()) fill(box, report(r, 'consistency'));
      } catch (e) { if (ok()) fill(box, errorBox(e)); } finally { refresh.disabled = false; }
    });
    refresh.addEventListener('click', load);
    repair.addEventListener('click', live(async (ok) => {
      repair.disabled = true;
      fill(result, h('span', { class: 'muted' }, 'repairing…'));
      try {
        const r = await getJSON('/api/v1/consistency/repair', { method: 'POST' });
        if (!ok()) return;
        const rel = r.released || [];
        fill(result, h('div', { class: 'notice' }, `Repair done: released ${r.count ?? rel.length} allocation(s)`,
          rel.length ? h('ul', { class: 'plain mono' }, rel.map((x) => h('li', null, typeof x === 'string' ? x : JSON.stringify(x)))) : '.'));
        load();
      } catch (e) { if (ok()) fill(result, errorBox(e)); } finally { repair.disabled = false; }
    }));
    load();
  }

  // ---------- images ----------
  function pageImages(page) {
    const box = h('div', { id: 'images' }, h('p', { class: 'muted' }, 'loading…'));
    const result = h('div', { id: 'redeploy-result', class: 'result' });
    add(page, h('h1', null, 'Images'), h('p', { class: 'muted' }, 'The image cache on the router. Redeploy recreates the pods that use an image on its current digest.'), result, h('div', { class: 'card flush' }, box));
    let imgs = null;
    let pushes = []; // the log's images.PushNotified records, newest last
    // The last push of an image's repository (and tag, when the push named one) from the log.
    const lastPush = (ref) => {
      const at = ref.lastIndexOf(':');
      const [repo, tag] = at > ref.lastIndexOf('/') ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, 'latest'];
      const hit = pushes.filter((r) => r.payload && r.payload.repository === repo && (!r.payload.tag || r.payload.tag === tag)).pop();
      return hit ? hit.time : null;
    };
    const render = () => {
      if (!imgs || S.needToken) return;
      const allPods = [...pods.items.values()];
      fill(box, table('images-table', ['Image', 'Digest', 'Size', 'Pulled', 'Last push', 'In use', 'Pods', 'Tarball', ''], imgs.map((im) => {
        const pushed = lastPush(im.ref);
        const users = allPods.filter((p) => podImages(p).some((c) => c.image === im.ref || (im.digest && c.digest && c.digest.endsWith(im.digest.replace(/^.*sha256:/, '')))));
        return h('tr', { 'data-image': im.ref },
          h('td', { class: 'mono name' }, im.ref),
          h('td', { class: 'mono', title: im.digest || '' }, shortDigest(im.digest)),
          h('td', { class: 'num' }, im.size != null ? bytes(im.size) : ''),
          h('td', { class: 'nowrap', title: im.pulledAt || '' }, im.pulledAt ? age(im.pulledAt) + ' ago' : ''),
          h('td', { class: 'nowrap', title: pushed || '', 'data-testid': 'last-push' }, pushed ? age(pushed) + ' ago' : h('span', { class: 'muted' }, '—')),
          h('td', { class: 'num' }, im.inUse != null ? String(im.inUse) : ''),
          h('td', { 'data-testid': 'image-pods' }, users.length ? users.map((p) => h('div', null, podLink(p.metadata.namespace, p.metadata.name, podKey(p)))) : h('span', { class: 'muted' }, 'none')),
          h('td', { class: 'mono small muted' }, im.tarballPath || im.path || ''),
          h('td', null, h('button', { type: 'button', class: 'small redeploy', 'data-image': im.ref, onclick: () => redeploy(im.ref) }, 'Redeploy')));
      }), { empty: 'the image cache is empty' }));
    };
    const redeploy = live(async (ok, ref) => {
      if (!confirm(`Redeploy the pods using ${ref}?`)) return;
      fill(result, h('span', { class: 'muted' }, 'redeploying ' + ref + '…'));
      try {
        const r = await getJSON('/api/v1/images/redeploy', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ image: ref }) });
        if (!ok()) return;
        const q = r.queued || [];
        fill(result, h('div', { class: 'notice', 'data-testid': 'redeploy-answer' }, `${ref}: ${r.status || 'ok'}, ${q.length} pod(s) queued`,
          q.length ? ': ' + q.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ') : ''));
        load();
      } catch (e) { if (ok()) fill(result, errorBox(e)); }
    });
    const load = live(async (ok) => {
      try {
        const [r, log] = await Promise.all([getJSON('/api/v1/images'), getJSON('/api/v1/log?area=images&limit=1000')]);
        if (!ok()) return;
        imgs = Array.isArray(r) ? r : r.items || [];
        pushes = (log.items || []).filter((x) => x.kind === 'images.PushNotified');
        render();
      } catch (e) { if (ok()) fill(box, errorBox(e)); }
    });
    onCleanup(pods.subscribe((ev) => { if (ev.type !== 'state') render(); }));
    load();
    every(10000, load);
  }

  // ---------- events (the log) ----------
  const areaOf = (r) => (r.subject || '').split('.')[2] || (r.kind || '').split('.')[0] || '';
  function summarize(payload) {
    if (payload == null) return '';
    if (typeof payload !== 'object') return String(payload);
    const parts = [];
    for (const [k, v] of Object.entries(payload)) {
      if (v != null && typeof v === 'object') parts.push(k + '={…}');
      else parts.push(k + '=' + v);
      if (parts.length >= 8) break;
    }
    return parts.join(' ');
  }
  function pageEvents(page) {
    const areaSel = h('select', { id: 'feed-area', 'aria-label': 'area' }, h('option', { value: '' }, 'all areas'), AREAS.map((a) => h('option', { value: a }, a)));
    const text = h('input', { id: 'feed-filter', type: 'search', placeholder: 'filter: kind, subject, payload…' });
    const follow = h('button', { id: 'feed-follow', type: 'button', class: 'toggle on', 'aria-pressed': 'true' }, 'Follow');
    const pause = h('button', { id: 'feed-pause', type: 'button', class: 'toggle', 'aria-pressed': 'false' }, 'Pause');
    const count = h('span', { id: 'feed-count', class: 'muted' });
    const tbody = h('tbody');
    const wrap = h('div', { class: 'card flush feed-wrap', id: 'feed-wrap' },
      h('table', { id: 'feed', class: 'grid compact feed' },
        h('thead', null, h('tr', null, ['#', 'Time', 'Node', 'Area', 'Kind', 'Subject', 'Payload'].map((x) => h('th', null, x)))), tbody));
    const status = h('div', { id: 'feed-status' });
    add(page, h('div', { class: 'page-head' }, h('h1', null, 'Events'), count),
      h('div', { class: 'toolbar' }, areaSel, text, follow, pause), status, wrap);
    let paused = false;
    let following = true;
    let shownUpTo = 0;
    let pending = 0;
    const MAX_ROWS = 1000;
    const match = (r) => {
      if (areaSel.value && areaOf(r) !== areaSel.value) return false;
      const q = text.value.trim().toLowerCase();
      if (!q) return true;
      const hay = (r.kind + ' ' + r.subject + ' ' + r.actor + ' ' + r.node + ' ' + r.corr + ' ' + JSON.stringify(r.payload)).toLowerCase();
      return q.split(/\s+/).every((w) => hay.includes(w));
    };
    const row = (r) => h('tr', { 'data-seq': r.seq, class: 'area-' + areaOf(r) },
      h('td', { class: 'num muted' }, String(r.seq)),
      h('td', { class: 'nowrap', title: r.time + (r.stored ? ' (stored ' + r.stored + ')' : '') }, time(r.time)),
      h('td', null, r.node || ''),
      h('td', null, h('span', { class: 'area' }, areaOf(r))),
      h('td', { class: 'mono' }, r.kind || ''),
      h('td', { class: 'mono small trunc', title: r.subject }, decodeSubject(r.subject)),
      h('td', { class: 'mono small payload', title: JSON.stringify(r.payload, null, 1) + (r.actor ? '\nactor: ' + r.actor : '') + (r.corr ? '\ncorr: ' + r.corr : '') }, summarize(r.payload)));
    const full = () => {
      const rows = feed.items.filter(match);
      const shown = rows.slice(-MAX_ROWS);
      fill(tbody, shown.length ? shown.map(row) : h('tr', { class: 'empty' }, h('td', { colspan: 7 }, feed.loaded ? 'no records' : 'loading…')));
      shownUpTo = feed.items.length ? feed.items[feed.items.length - 1].seq : 0;
      pending = 0;
      count.textContent = `${rows.length} records` + (rows.length > MAX_ROWS ? ` (last ${MAX_ROWS} shown)` : '');
      scroll();
    };
    const scroll = () => { if (following) wrap.scrollTop = wrap.scrollHeight; };
    const onEvent = (ev) => {
      if (ev.type === 'state') {
        if (feed.error) fill(status, errorBox(feed.error)); else clear(status);
        return;
      }
      if (ev.type === 'list' || paused) {
        if (paused && ev.type !== 'list') { pending++; pause.textContent = `Resume (${pending} new)`; return; }
        full();
        return;
      }
      const r = ev.object;
      if (!r || r.seq <= shownUpTo) return;
      shownUpTo = r.seq;
      if (!match(r)) return;
      const empty = tbody.querySelector('tr.empty');
      if (empty) empty.remove();
      tbody.append(row(r));
      while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(0);
      count.textContent = `${tbody.rows.length} records`;
      scroll();
    };
    areaSel.addEventListener('change', live(async (ok) => {
      full();
      if (!areaSel.value) return;
      try { // older records of that area
        const r = await getJSON('/api/v1/log?limit=500&area=' + esc(areaSel.value));
        if (!ok()) return;
        feed.merge(r.items || []);
        if (!paused) full();
      } catch (e) { if (ok()) fill(status, errorBox(e)); }
    }));
    text.addEventListener('input', full);
    tbody.addEventListener('click', (e) => { const tr = e.target.closest('tr[data-seq]'); if (tr) tr.classList.toggle('open'); });
    follow.addEventListener('click', () => {
      following = !following;
      follow.classList.toggle('on', following);
      follow.setAttribute('aria-pressed', String(following));
      scroll();
    });
    pause.addEventListener('click', () => {
      paused = !paused;
      pause.classList.toggle('on', paused);
      pause.setAttribute('aria-pressed', String(paused));
      pause.textContent = paused ? 'Resume' : 'Pause';
      if (!paused) full();
    });
    wrap.addEventListener('scroll', () => {
      const atEnd = wrap.scrollTop + wrap.clientHeight >= wrap.scrollHeight - 4;
      if (!atEnd && following) { following = false; follow.classList.remove('on'); follow.setAttribute('aria-pressed', 'false'); }
      if (atEnd && !following) { following = true; follow.classList.add('on'); follow.setAttribute('aria-pressed', 'true'); }
    });
    onCleanup(feed.subscribe(onEvent));
    onCleanup(() => feed.stop()); // the log is followed only while this page is open
    full();
  }
  function decodeSubject(s) {
    try { return (s || '').split('.').map((t) => decodeURIComponent(t.replace(/%2E/gi, '.'))).join(' · '); } catch { return s; }
  }

  // ---------- apply ----------
  function applyDialog() {
    const ns = h('input', { id: 'apply-namespace', value: 'default', 'aria-label': 'namespace', spellcheck: 'false' });
    const ta = h('textarea', { id: 'apply-yaml', rows: 18, spellcheck: 'false', placeholder: 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: my-app\n  annotations:\n    vkube.io/network: <network>\nspec:\n  containers:\n  - name: app\n    image: <registry>/<image>:<tag>' });
    const result = h('div', { id: 'apply-result', class: 'result', 'aria-live': 'polite' });
    let nsTouched = false;
    ns.addEventListener('input', () => { nsTouched = true; });
    ta.addEventListener('input', () => {
      const m = /^metadata:\s*\n(?:[ \t]+.*\n)*?[ \t]+namespace:\s*["']?([\w.-]+)/m.exec(ta.value);
      if (m && !nsTouched) ns.value = m[1];
    });
    const submit = h('button', { id: 'apply-submit', type: 'submit', class: 'primary' }, 'Create pod');
    const form = h('form', { id: 'apply-form', method: 'dialog' },
      h('header', { class: 'card-head' }, h('h2', null, 'Apply a pod (YAML)'), h('span', { class: 'spacer' }),
        h('button', { type: 'button', class: 'small link', id: 'apply-close', onclick: () => $('#apply-dialog').close() }, 'close')),
      h('label', { class: 'field' }, 'Namespace ', ns), ta,
      h('div', { class: 'row' }, submit, result));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      submit.disabled = true;
      fill(result, h('span', { class: 'muted' }, 'sending…'));
      const namespace = ns.value.trim() || 'default';
      try {
        const r = await request(`/api/v1/namespaces/${esc(namespace)}/pods`, { method: 'POST', headers: { 'Content-Type': 'application/yaml' }, body: ta.value });
        let obj = {};
        try { obj = await r.json(); } catch { /* no body */ }
        const name = (obj.metadata && obj.metadata.name) || '?';
        const pns = (obj.metadata && obj.metadata.namespace) || namespace;
        fill(result, h('span', { class: 'ok', 'data-testid': 'apply-ok' }, 'created ', podLink(pns, name, name)));
      } catch (err) {
        fill(result, h('span', { class: 'error', 'data-testid': 'apply-error' }, err.message));
      } finally { submit.disabled = false; }
    });
    return h('dialog', { id: 'apply-dialog', class: 'dialog' }, form);
  }
  function openApply() {
    if (S.needToken) return;
    const d = $('#apply-dialog');
    clear($('#apply-result'));
    if (!d.open) d.showModal();
    $('#apply-yaml').focus();
  }

  // ---------- start ----------
  window.addEventListener('hashchange', route);
  window.addEventListener('unhandledrejection', (e) => {
    const err = e.reason;
    if (err && (err.name === 'AbortError' || err.code === 401)) return;
    banner(err && err.message ? err.message : String(err));
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === '/' && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) {
      const f = $('#pods-filter') || $('#feed-filter');
      if (f) { e.preventDefault(); f.focus(); }
    }
  });
  if (!location.hash) history.replaceState(null, '', '#/pods');
  shell();
  route();
})();
