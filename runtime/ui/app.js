'use strict';
// Gale web UI, served by Nimbus: the cluster page (/) and the topology page (/topologies/{id}).
// Plain DOM, no dependencies. Server text only ever reaches the page through text nodes.

/* ---------- DOM helpers ---------- */

const $ = (selector) => document.querySelector(selector);
const setText = (selector, value) => { $(selector).textContent = value; };
const SVG_NS = 'http://www.w3.org/2000/svg';

// Sets attributes on `node` (skipping null/undefined/false) and appends children (strings become text nodes).
function build(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== undefined && child !== null) node.append(typeof child === 'object' ? child : String(child));
  }
  return node;
}
const el = (tag, attrs = {}, ...children) => build(document.createElement(tag), attrs, children);
const svgEl = (tag, attrs = {}, ...children) => build(document.createElementNS(SVG_NS, tag), attrs, children);

// Fills a <td> from a cell spec: a plain value, or {text, cls, title, colspan, background, href, pill}.
// `href` wraps the text in a link, `pill` in a <span> with that class. Unchanged text is left alone.
function setCell(td, spec) {
  const cell = spec !== null && typeof spec === 'object' ? spec : { text: spec };
  td.className = cell.cls || '';
  if (cell.colspan) td.colSpan = cell.colspan;
  if (cell.title) td.title = cell.title; else td.removeAttribute('title');
  td.style.background = cell.background || '';
  let target = td;
  if (cell.href || cell.pill) {
    const tag = cell.href ? 'A' : 'SPAN';
    if (td.firstElementChild?.tagName !== tag) td.replaceChildren(document.createElement(tag));
    target = td.firstElementChild;
    if (cell.href) target.setAttribute('href', cell.href);
    if (cell.pill) target.className = cell.pill;
  }
  const text = String(cell.text ?? '');
  if (target.textContent !== text) target.textContent = text;
}

// Brings `tbody` in line with `rows` ([{key, attrs, cells}]), reusing the <tr> of each key so a poll
// never replaces the element under the pointer. `empty` is the text shown when there are no rows.
function syncRows(tbody, rows, empty) {
  const columns = tbody.closest('table').tHead.rows[0].cells.length;
  if (!rows.length) rows = [{ key: 'empty', attrs: { class: 'empty' }, cells: [{ text: empty, colspan: columns }] }];
  const existing = new Map([...tbody.rows].map((tr) => [tr.dataset.key, tr]));
  const trs = rows.map((row) => {
    const tr = existing.get(row.key) || el('tr', { 'data-key': row.key });
    for (const [name, value] of Object.entries(row.attrs || {})) tr.setAttribute(name, String(value));
    row.cells.forEach((cell, i) => setCell(tr.cells[i] || tr.insertCell(), cell));
    return tr;
  });
  if (trs.length !== tbody.rows.length || trs.some((tr, i) => tbody.rows[i] !== tr)) tbody.replaceChildren(...trs);
}

// Replaces the children of a definition list with [label, value] pairs, only when they changed.
const kvSignatures = new WeakMap();
function renderKv(dl, pairs) {
  const signature = JSON.stringify(pairs);
  if (kvSignatures.get(dl) === signature) return;
  kvSignatures.set(dl, signature);
  dl.replaceChildren(...pairs.map(([label, value]) => el('div', {}, el('dt', {}, label), el('dd', {}, value))));
}

/* ---------- Formatting ---------- */

// 1234 → "1.2k", 12345678 → "12.3M"; fractions keep up to two decimals.
function fmtNum(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const units = ['', 'k', 'M', 'G', 'T'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 999.5 && unit < units.length - 1) { value /= 1000; unit++; }
  const size = Math.abs(value);
  const decimals = size >= 100 || (unit === 0 && Number.isInteger(value)) ? 0 : size < 10 && unit === 0 ? 2 : 1;
  return value.toFixed(decimals).replace(/\.(\d*?)0+$/, (_, kept) => (kept ? `.${kept}` : '')) + units[unit];
}
const fmtRate = (n) => `${fmtNum(n)} tuples/s`;
const fmtPercent = (ratio) => `${Math.round(clamp01(ratio) * 100)}%`;
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
const clamp01 = (x) => Math.min(1, Math.max(0, Number(x) || 0));

// 3723000 → "1h 2m 3s" (every unit from the largest non-zero one down).
function fmtDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  let seconds = Math.max(0, Math.floor(ms / 1000));
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) {
    if (seconds >= size || parts.length) { parts.push(`${Math.floor(seconds / size)}${unit}`); seconds %= size; }
  }
  parts.push(`${seconds}s`);
  return parts.join(' ');
}

// Milliseconds with a precision that suits their size; a minute or more reads as a duration.
function fmtMs(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  if (ms >= 60000) return fmtDuration(ms);
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(ms === 0 || ms >= 100 ? 0 : ms < 1 ? 2 : 1)} ms`;
}

function fmtBytes(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

// A latency summary {p50, p99, count} as "p50 / p99".
const fmtLatency = (l) => (l && l.count !== 0 ? `${fmtMs(l.p50)} / ${fmtMs(l.p99)}` : '—');

// A heartbeat: an epoch timestamp (ms) or an age (ms), shown as an age.
function fmtAgo(ms) {
  if (typeof ms !== 'number') return '—';
  return `${fmtDuration(ms > 1e12 ? Date.now() - ms : ms)} ago`;
}

// An epoch timestamp on the local clock, with the date when it is not today.
function fmtClock(ms) {
  const date = new Date(ms);
  const time = date.toLocaleTimeString([], { hour12: false });
  return date.toDateString() === new Date().toDateString() ? time : `${date.toLocaleDateString()} ${time}`;
}

// Any other value of a key/value box: durations and sizes by key suffix, objects as JSON.
function fmtValue(key, value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number' && key.endsWith('_ms')) return fmtMs(value);
  if (typeof value === 'number' && key.endsWith('_bytes')) return fmtBytes(value);
  if (typeof value === 'number') return value.toLocaleString();
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
const fmtKey = (key) => key.replace(/_ms$/, '').replace(/_/g, ' ');

/* ---------- Banner and notices ---------- */

// The banner shows one error at a time; `source` lets a poll clear its own error once it recovers
// without hiding an action's error.
let bannerSource = null;
function showBanner(message, source) {
  setText('#banner-text', message);
  $('#banner').hidden = false;
  bannerSource = source;
}
function clearBanner(source) {
  if (bannerSource !== source) return;
  $('#banner').hidden = true;
  bannerSource = null;
}

let noticeTimer = null;
function showNotice(message) {
  const notice = $('#notice');
  notice.textContent = message;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { notice.hidden = true; }, 6000);
}

/* ---------- HTTP ---------- */

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// One JSON request. Writes carry the CSRF token; failures throw ApiError with the server's message.
async function api(method, path, body) {
  const options = { method, credentials: 'same-origin', cache: 'no-store', headers: {} };
  if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  if (method !== 'GET' && session.csrf) options.headers['X-CSRF-Token'] = session.csrf;
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new ApiError(0, `Cannot reach Nimbus (${err.message})`);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data?.error || `${method} ${path}: HTTP ${response.status}`);
  return data;
}

// A read that waits for a sign-in when the server answers 401, then tries again.
async function readJson(path) {
  for (;;) {
    try {
      return await api('GET', path);
    } catch (err) {
      if (err.status !== 401) throw err;
      session.authenticated = false;
      renderSession();
      await requestLogin(false);
    }
  }
}

// Calls `tick` every `ms` milliseconds without overlapping; `tick` returns false to stop.
function poll(tick, ms) {
  const run = async () => { if ((await tick()) !== false) setTimeout(run, ms); };
  run();
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/* ---------- Session and sign-in ---------- */

const session = { mode: null, secret_required: false, public_read: true, authenticated: false, csrf: null };
const needsSecret = () => session.secret_required && !session.authenticated;

async function loadSession() {
  Object.assign(session, await api('GET', '/api/v1/session'));
  renderSession();
}

// The top bar: mode, sign-in state, and the sign-in / sign-out buttons.
function renderSession() {
  let text = session.mode ? `${session.mode} mode` : '';
  if (session.secret_required) text += session.authenticated ? ' · signed in' : ' · read-only';
  setText('#session-info', text);
  $('#login-button').hidden = !needsSecret();
  $('#logout-button').hidden = !(session.secret_required && session.authenticated);
}

// Everyone waiting for the sign-in form: each resolves with true (signed in) or false (cancelled).
let loginWaiters = [];

// Shows the sign-in form; resolves once signed in (or false if the user cancels, when allowed).
function requestLogin(cancellable) {
  return new Promise((resolve) => {
    loginWaiters.push({ resolve, cancellable });
    $('#login-cancel').hidden = !loginWaiters.every((w) => w.cancellable);
    if ($('#login-overlay').hidden) {
      $('#login-error').hidden = true;
      $('#login-overlay').hidden = false;
      $('#secret-input').focus();
    }
  });
}

function closeLogin(signedIn) {
  $('#login-overlay').hidden = true;
  const waiters = loginWaiters;
  loginWaiters = [];
  waiters.forEach((w) => w.resolve(signedIn));
}

// Posts the secret (kept nowhere else) and stores the CSRF token the server answers with.
async function submitLogin(event) {
  event.preventDefault();
  const input = $('#secret-input');
  const body = { secret: input.value };
  input.value = '';
  try {
    const reply = await api('POST', '/api/v1/session', body);
    session.csrf = reply.csrf;
    session.authenticated = true;
    renderSession();
    closeLogin(true);
  } catch (err) {
    setText('#login-error', err.message);
    $('#login-error').hidden = false;
    input.focus();
  }
}

async function logout() {
  try {
    await api('DELETE', '/api/v1/session');
    location.reload();
  } catch (err) {
    showBanner(err.message, 'action');
  }
}

// Runs a write action, signing in first when the cluster needs the secret; a 401 on the way
// (an expired session) asks for the secret once more. Errors go to the banner.
async function withAuth(action, retry = true) {
  if (needsSecret() && !(await requestLogin(true))) return;
  clearBanner('action'); // a new action replaces the error of the previous one
  try {
    await action();
  } catch (err) {
    if (err.status === 401 && retry) {
      session.authenticated = false;
      renderSession();
      await withAuth(action, false);
      return;
    }
    showBanner(err.message, 'action');
  }
}

// The in-page confirmation dialog; resolves with the answer.
function askConfirm(text) {
  return new Promise((resolve) => {
    const answer = (yes) => {
      $('#confirm-overlay').hidden = true;
      $('#confirm-yes').onclick = $('#confirm-no').onclick = null;
      resolve(yes);
    };
    setText('#confirm-text', text);
    $('#confirm-yes').onclick = () => answer(true);
    $('#confirm-no').onclick = () => answer(false);
    $('#confirm-overlay').hidden = false;
    $('#confirm-no').focus();
  });
}

/* ---------- Cluster page ---------- */

function startClusterPage() {
  $('#cluster-page').hidden = false;
  document.title = 'Gale · cluster';
  poll(async () => {
    try {
      const [cluster, topologies] = await Promise.all([readJson('/api/v1/cluster'), readJson('/api/v1/topologies')]);
      clearBanner('poll');
      renderCluster(cluster);
      renderTopologyList(topologies);
    } catch (err) {
      showBanner(err.message, 'poll');
    }
  }, 2000);
}

function renderCluster(cluster) {
  setText('#mode', cluster.mode);
  setText('#slots-used', cluster.slots_used);
  setText('#slots-free', cluster.slots_free);
  setText('#slots-total', cluster.slots_total);
  setText('#topology-count', cluster.topologies);
  const rows = cluster.supervisors.map((s) => ({
    key: s.id,
    attrs: { 'data-supervisor': s.id },
    cells: [s.id, s.host, s.slots.join(', '), { text: s.used, cls: 'num' }, { text: s.free, cls: 'num' },
      { text: s.alive ? 'alive' : 'dead', pill: `state state-${s.alive ? 'alive' : 'dead'}` }, fmtAgo(s.last_heartbeat_ms)],
  }));
  const empty = cluster.mode === 'local' ? 'Local mode: every executor runs inside this process.' : 'No supervisors connected.';
  syncRows($('#supervisors tbody'), rows, empty);
}

function renderTopologyList(topologies) {
  const rows = topologies.map((t) => ({
    key: t.id,
    attrs: { 'data-topology': t.id },
    cells: [
      { text: t.name, href: `/topologies/${encodeURIComponent(t.id)}` },
      { text: t.id, cls: 'mono' },
      { text: t.status, pill: `status status-${t.status}`, title: t.failure },
      fmtDuration(t.uptime_ms),
      plural(t.workers.length, 'worker'),
      { text: fmtRate(t.throughput), cls: 'num' },
      { text: t.restarts, cls: 'num' },
    ],
  }));
  syncRows($('#topologies tbody'), rows, 'No topologies are running.');
}

/* ---------- Topology page: state and polling ---------- */

const HISTORY_SPAN_MS = 10 * 60 * 1000;

// Everything the topology page remembers between polls.
const topo = {
  id: null,
  base: null, // API path of this topology
  data: null, // last topology JSON
  planKey: null, // the plan the graph was laid out for
  series: [], // chart points {t, tput, p50, p99}, oldest first
  expanded: new Set(), // components whose task rows are open
  killed: false, // a kill succeeded from this page
  gone: false, // the server answered 404
};

function startTopologyPage(id) {
  topo.id = id;
  topo.base = `/api/v1/topologies/${encodeURIComponent(id)}`;
  $('#topology-page').hidden = false;
  setText('#topology-id', id);
  document.title = `${id} · Gale`;
  wireTopologyControls();
  poll(pollTopology, 1000);
  poll(pollHistory, 5000);
}

async function pollTopology() {
  try {
    const t = await readJson(topo.base);
    clearBanner('poll');
    if (!topo.gone) renderTopology(t);
  } catch (err) {
    if (err.status === 404) showGone();
    else showBanner(err.message, 'poll');
  }
  return !topo.gone;
}

// The history refills the charts; the points added by polls since its last sample are kept.
async function pollHistory() {
  try {
    const history = await readJson(`${topo.base}/history`);
    clearBanner('history');
    const samples = history.samples.map((s) => ({ t: s.time_ms, tput: s.throughput, p50: s.latency_p50_ms, p99: s.latency_p99_ms }));
    const last = samples.length ? samples[samples.length - 1].t : -Infinity;
    topo.series = samples.concat(topo.series.filter((p) => p.t > last));
    drawCharts();
  } catch (err) {
    if (err.status !== 404) showBanner(err.message, 'history'); // a 404 means gone: pollTopology shows it
  }
  return !topo.gone;
}

// The topology no longer exists (killed): say so, link back, and stop polling.
function showGone() {
  topo.gone = true;
  setText('#gone-id', topo.id);
  $('#gone').hidden = false;
  $('#topology-content').hidden = true;
  $('#rebalance-form').hidden = true;
  clearBanner('poll');
  clearBanner('history');
  clearBanner('action');
}

function renderTopology(t) {
  topo.data = t;
  document.title = `${t.name} · Gale`;
  renderHeader(t);
  renderActions(t);
  const planKey = JSON.stringify([t.source, t.plan.components, t.plan.edges, t.plan.chains]);
  if (planKey !== topo.planKey) {
    topo.planKey = planKey;
    layoutGraph(t.plan);
  }
  colourGraph(t.components);
  addChartPoint(t);
  drawCharts();
  renderComponents();
  renderErrors(t);
  renderWorkers(t);
  renderBoxes(t);
}

function renderHeader(t) {
  const status = topo.killed ? 'killed' : t.status;
  const statusEl = $('#topology-status');
  statusEl.textContent = status;
  statusEl.className = `status status-${status}`;
  setText('#topology-name', t.name);
  setText('#topology-id', t.id);
  setText('#uptime', fmtDuration(t.uptime_ms));
  setText('#version', t.version);
  setText('#source', t.source);
  setText('#restarts', t.restarts);
  setText('#throughput', fmtRate(t.throughput));
  setText('#latency', t.latency_ms ? `p50 ${fmtMs(t.latency_ms.p50)} · p99 ${fmtMs(t.latency_ms.p99)}` : '—');
  setText('#failure', t.failure ? `Failure: ${t.failure}` : '');
  $('#failure').hidden = !t.failure;
}

// A `.topo` location: the source file and a line.
const topoLocation = (line) => (line === null || line === undefined ? topo.data.source : `${topo.data.source}:${line}`);

/* ---------- Topology page: actions ---------- */

function renderActions(t) {
  const allowed = topo.killed ? {} : t.actions || {};
  $('#kill-button').hidden = !allowed.kill;
  $('#rebalance-button').hidden = !allowed.rebalance;
  $('#savepoint-button').hidden = !allowed.savepoint;
  if (!allowed.rebalance) $('#rebalance-form').hidden = true;
}

function wireTopologyControls() {
  $('#kill-button').addEventListener('click', () => withAuth(killTopology));
  $('#rebalance-button').addEventListener('click', () => withAuth(openRebalanceForm));
  $('#savepoint-button').addEventListener('click', () => withAuth(triggerSavepoint));
  $('#rebalance-form').addEventListener('submit', (event) => {
    event.preventDefault();
    withAuth(submitRebalance);
  });
  $('#rebalance-form').addEventListener('input', syncChainInputs);
  $('#rebalance-cancel').addEventListener('click', () => { $('#rebalance-form').hidden = true; });
  $('#components tbody').addEventListener('click', (event) => {
    const row = event.target.closest('tr.component-row');
    if (row) toggleComponent(row.dataset.component);
  });
  $('#graph').addEventListener('click', (event) => {
    const node = event.target.closest('g.node');
    if (node) revealComponent(node.dataset.component);
  });
}

async function killTopology() {
  const name = topo.data?.name || topo.id;
  if (!(await askConfirm(`Kill topology ${name}? All its workers stop.`))) return;
  const button = $('#kill-button');
  button.disabled = true;
  try {
    await api('POST', `${topo.base}/kill`, {});
  } finally {
    button.disabled = false;
  }
  topo.killed = true;
  if (topo.data) { renderHeader(topo.data); renderActions(topo.data); }
  showNotice(`Topology ${name} is being killed.`);
}

async function triggerSavepoint() {
  const reply = await api('POST', `${topo.base}/savepoint`, {});
  showNotice(reply?.path ? `Savepoint written to ${reply.path}` : 'Savepoint requested.');
}

// One number input per component, prefilled with the executors of its chain.
function openRebalanceForm() {
  const plan = topo.data.plan;
  const fields = plan.components.map((c) => {
    const chain = plan.chains[c.chain];
    const fused = chain && chain.components.length > 1;
    return el('label', {},
      el('span', { class: 'field-name' }, c.name),
      el('input', { type: 'number', name: c.name, min: 1, step: 1, required: true, value: chain ? chain.executors : c.tasks, 'data-chain': c.chain }),
      el('span', { class: 'field-hint' }, `${plural(c.tasks, 'task')}${fused ? ' · fused' : ''}`));
  });
  $('#rebalance-fields').replaceChildren(...fields);
  $('#rebalance-form').hidden = false;
  $('#rebalance-form input').focus();
}

// Components fused into one chain share their executors: editing one input updates the others.
function syncChainInputs(event) {
  const input = event.target;
  for (const other of $('#rebalance-form').querySelectorAll('input[type=number]')) {
    if (other !== input && other.dataset.chain === input.dataset.chain) other.value = input.value;
  }
}

async function submitRebalance() {
  const parallelism = {};
  for (const input of $('#rebalance-form').querySelectorAll('input[type=number]')) parallelism[input.name] = Number(input.value);
  await api('POST', `${topo.base}/rebalance`, { parallelism });
  $('#rebalance-form').hidden = true;
  showNotice('Rebalance requested.');
}

/* ---------- Topology page: graph ---------- */

const NODE_H = 50;
const ROW_GAP = 34;
const COL_GAP = 130;
const PAD = 24;
const PAD_TOP = 44; // room for the "fused" label above a chain

// Layer of each component: the longest path from a source (spouts have no inputs), capped so a cycle ends.
function longestPathLayers(names, edges) {
  const layer = new Map(names.map((n) => [n, 0]));
  for (let pass = 0; pass < names.length; pass++) {
    let changed = false;
    for (const e of edges) {
      if (e.from !== e.to && layer.get(e.from) + 1 > layer.get(e.to)) {
        layer.set(e.to, layer.get(e.from) + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return layer;
}

// Components grouped by layer; within a layer, ordered by the mean position of their inputs
// (ties keep plan order), which keeps edges short and the layout deterministic.
function orderColumns(names, edges, layer) {
  const columns = Array.from({ length: Math.max(0, ...layer.values()) + 1 }, () => []);
  names.forEach((n) => columns[layer.get(n)].push(n));
  const position = new Map();
  columns.forEach((column, depth) => {
    if (depth > 0) {
      const mean = (n) => {
        const inputs = edges.filter((e) => e.to === n && position.has(e.from)).map((e) => position.get(e.from));
        return inputs.length ? inputs.reduce((a, b) => a + b, 0) / inputs.length : Infinity;
      };
      const keyed = column.map((n, i) => ({ n, i, mean: mean(n) }));
      keyed.sort((a, b) => (a.mean === b.mean ? a.i - b.i : a.mean - b.mean));
      column.splice(0, column.length, ...keyed.map((k) => k.n));
    }
    column.forEach((n, i) => position.set(n, i - (column.length - 1) / 2));
  });
  return columns;
}

// Draws the whole graph: chains behind, then edges, then nodes. Runs only when the plan changes.
function layoutGraph(plan) {
  const names = plan.components.map((c) => c.name);
  const known = new Set(names);
  const edges = plan.edges.filter((e) => known.has(e.from) && known.has(e.to));
  const columns = orderColumns(names, edges, longestPathLayers(names, edges));
  const subtitle = (c) => `${topoLocation(c.line)} · ${plural(c.tasks, 'task')}`;

  // Uniform node width, wide enough for the longest name or subtitle.
  const nodeW = Math.min(320, Math.max(140, ...plan.components.map((c) => Math.max(c.name.length * 8.6, subtitle(c).length * 6.7) + 24)));
  const rows = Math.max(1, ...columns.map((c) => c.length));
  const width = PAD * 2 + columns.length * nodeW + (columns.length - 1) * COL_GAP;
  const height = PAD_TOP + PAD + rows * NODE_H + (rows - 1) * ROW_GAP;

  const at = new Map(); // component → top-left corner
  columns.forEach((column, depth) => column.forEach((n, i) => {
    const offset = (rows - column.length) / 2 + i;
    at.set(n, { x: PAD + depth * (nodeW + COL_GAP), y: PAD_TOP + offset * (NODE_H + ROW_GAP) });
  }));

  const svg = $('#graph');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  svg.replaceChildren(
    svgEl('defs', {}, svgEl('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      svgEl('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head' }))),
    ...plan.chains.map((chain, index) => drawChain(chain, index, at, nodeW)).filter(Boolean),
    ...drawEdges(edges, at, nodeW),
    ...plan.components.map((c) => drawNode(c, at.get(c.name), nodeW, subtitle(c))),
  );
}

// A dashed box around the components of a fused chain (chains of one component get none).
function drawChain(chain, index, at, nodeW) {
  const corners = chain.components.map((n) => at.get(n)).filter(Boolean);
  if (corners.length < 2) return null;
  const x = Math.min(...corners.map((p) => p.x)) - 12;
  const y = Math.min(...corners.map((p) => p.y)) - 28;
  const w = Math.max(...corners.map((p) => p.x)) + nodeW + 12 - x;
  const h = Math.max(...corners.map((p) => p.y)) + NODE_H + 12 - y;
  return svgEl('g', { class: 'chain-group' },
    svgEl('title', {}, `fused chain ${index}: ${chain.components.join(' → ')}, ${plural(chain.executors, 'executor')}, ${plural(chain.tasks, 'task')}`),
    svgEl('rect', { class: 'chain', 'data-chain': index, x, y, width: w, height: h, rx: 14 }),
    svgEl('text', { class: 'chain-label', x: x + 10, y: y + 17 }, 'fused'));
}

// The label of an edge: its grouping, with its fields when it has any.
function edgeLabel(e) {
  if (e.fused) return 'fused';
  return e.detail ? `${e.grouping}(${e.detail})` : e.grouping;
}

// Each edge is a curve from the right side of its source to the left side of its target,
// labelled at its middle; parallel edges (several streams) stack their labels.
function drawEdges(edges, at, nodeW) {
  const seen = new Map();
  return edges.map((e) => {
    const pair = `${e.from}\u0000${e.to}`;
    const nth = seen.get(pair) || 0;
    seen.set(pair, nth + 1);
    const from = at.get(e.from);
    const to = at.get(e.to);
    const x1 = from.x + nodeW;
    const y1 = from.y + NODE_H / 2;
    const x2 = to.x;
    const y2 = to.y + NODE_H / 2;
    const bend = Math.max(40, Math.abs(x2 - x1) / 2);
    const c1 = x1 + bend;
    const c2 = x2 - bend;
    const mx = (x1 + 3 * c1 + 3 * c2 + x2) / 8; // the curve's midpoint
    const my = (y1 + y2) / 2 - 7 - nth * 15;
    return svgEl('g', { class: `edge${e.fused ? ' fused' : ''}`, 'data-from': e.from, 'data-to': e.to, 'data-stream': e.stream },
      svgEl('title', {}, `${e.from} → ${e.to}, stream ${e.stream}`),
      svgEl('path', { d: `M${x1},${y1} C${c1},${y1} ${c2},${y2} ${x2},${y2}`, 'marker-end': 'url(#arrow)' }),
      svgEl('text', { class: 'edge-label', x: mx, y: my }, edgeLabel(e)));
  });
}

function drawNode(c, p, nodeW, subtitle) {
  return svgEl('g', { class: `node ${c.kind}`, 'data-component': c.name, transform: `translate(${p.x},${p.y})` },
    svgEl('title', {}, `${c.name}: ${c.kind} ${c.operator}`),
    svgEl('rect', { width: nodeW, height: NODE_H, rx: 8 }),
    svgEl('text', { class: 'node-name', x: nodeW / 2, y: 21 }, c.name),
    svgEl('text', { class: 'node-sub', x: nodeW / 2, y: 38 }, subtitle));
}

// Backpressure scale, green (0) → yellow (0.5) → red (1); the legend uses the same colours.
const backpressureFill = (ratio) => `hsl(${Math.round(120 * (1 - ratio))}, 72%, 80%)`;
const backpressureStroke = (ratio) => `hsl(${Math.round(120 * (1 - ratio))}, 60%, 32%)`;

// Recolours the nodes from the latest metrics without laying the graph out again.
function colourGraph(components) {
  const byName = new Map(components.map((c) => [c.name, c]));
  for (const node of $('#graph').querySelectorAll('g.node')) {
    const ratio = clamp01(byName.get(node.dataset.component)?.backpressure_ratio);
    node.dataset.backpressure = String(ratio);
    const rect = node.querySelector('rect');
    rect.style.fill = backpressureFill(ratio);
    rect.style.stroke = backpressureStroke(ratio);
  }
}

/* ---------- Topology page: charts ---------- */

const CHART_W = 560;
const CHART_H = 200;
const MARGIN = { left: 58, right: 14, top: 12, bottom: 26 };

// Each poll extends the charts with the current figures; points older than ten minutes drop off.
// `time_ms` (the server's clock) keeps poll points on the history's time base when present.
function addChartPoint(t) {
  const time = t.time_ms ?? Date.now();
  topo.series.push({ t: time, tput: t.throughput, p50: t.latency_ms?.p50 ?? null, p99: t.latency_ms?.p99 ?? null });
  topo.series = topo.series.filter((p) => p.t >= time - HISTORY_SPAN_MS);
}

function drawCharts() {
  const line = (key, cls) => ({ cls, points: topo.series.map((p) => [p.t, p[key]]) });
  drawChart($('#throughput-chart'), [line('tput', 'tput')], fmtNum);
  drawChart($('#latency-chart'), [line('p50', 'p50'), line('p99', 'p99')], fmtNum);
}

// A "nice" tick step (1, 2 or 5 times a power of ten) near `rough`.
function niceStep(rough) {
  if (!(rough > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

// A time-series chart: `lines` are [{cls, points: [[time_ms, value|null]]}]; a null breaks its line.
function drawChart(svg, lines, fmtTick) {
  svg.setAttribute('viewBox', `0 0 ${CHART_W} ${CHART_H}`);
  const points = lines.flatMap((l) => l.points.filter((p) => typeof p[1] === 'number'));
  if (!points.length) {
    svg.replaceChildren(svgEl('text', { class: 'chart-empty', x: CHART_W / 2, y: CHART_H / 2 }, 'No data yet'));
    return;
  }
  const t1 = Math.max(...points.map((p) => p[0]));
  const t0 = Math.min(t1 - 60000, ...points.map((p) => p[0]));
  const vMax = Math.max(...points.map((p) => p[1]));
  const yStep = niceStep(vMax / 4);
  const ySteps = Math.max(1, Math.ceil(vMax / yStep - 1e-9));
  const yMax = yStep * ySteps;
  const plotW = CHART_W - MARGIN.left - MARGIN.right;
  const plotH = CHART_H - MARGIN.top - MARGIN.bottom;
  const x = (t) => MARGIN.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v) => MARGIN.top + plotH - (v / yMax) * plotH;

  const parts = [];
  // Value axis: gridlines and labels at each step.
  for (let i = 0; i <= ySteps; i++) {
    const v = i * yStep;
    parts.push(svgEl('line', { class: 'grid', x1: MARGIN.left, x2: CHART_W - MARGIN.right, y1: y(v), y2: y(v) }),
      svgEl('text', { class: 'tick y-tick', x: MARGIN.left - 6, y: y(v) + 4 }, fmtTick(Number(v.toPrecision(6)))));
  }
  // Time axis: labels on round clock times, about five across.
  const tStep = [10, 15, 30, 60, 120, 300].map((s) => s * 1000).find((s) => (t1 - t0) / s <= 6) || 600000;
  for (let t = Math.ceil(t0 / tStep) * tStep; t <= t1; t += tStep) {
    const label = new Date(t).toLocaleTimeString([], { hour12: false, hour: '2-digit', minute: '2-digit', second: tStep < 60000 ? '2-digit' : undefined });
    parts.push(svgEl('line', { class: 'axis', x1: x(t), x2: x(t), y1: MARGIN.top + plotH, y2: MARGIN.top + plotH + 4 }),
      svgEl('text', { class: 'tick x-tick', x: x(t), y: CHART_H - 6 }, label));
  }
  parts.push(svgEl('line', { class: 'axis', x1: MARGIN.left, x2: CHART_W - MARGIN.right, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH }));
  // The lines, broken where a value is missing, with a dot on the latest value.
  for (const l of lines) {
    let d = '';
    let pen = 'M';
    for (const [t, v] of l.points) {
      if (typeof v !== 'number') { pen = 'M'; continue; }
      d += `${pen}${x(t).toFixed(1)},${y(v).toFixed(1)} `;
      pen = 'L';
    }
    const last = [...l.points].reverse().find((p) => typeof p[1] === 'number');
    if (d) parts.push(svgEl('path', { class: `line ${l.cls}`, d }));
    if (last) parts.push(svgEl('circle', { class: `dot ${l.cls}`, cx: x(last[0]), cy: y(last[1]), r: 3 }));
  }
  svg.replaceChildren(...parts);
}

/* ---------- Topology page: tables and boxes ---------- */

function toggleComponent(name) {
  if (!topo.expanded.delete(name)) topo.expanded.add(name);
  renderComponents();
}

// From the graph: open the component's task rows and scroll its row into view.
function revealComponent(name) {
  topo.expanded.add(name);
  renderComponents();
  document.querySelector(`#components tr[data-component="${CSS.escape(name)}"]`)?.scrollIntoView({ block: 'center', behavior: 'smooth' });
}

// A windowed rate cell: what a spout emits, what a bolt executes; all four in the tooltip.
function rateCell(rates, kind) {
  if (!rates) return { text: '—', cls: 'num' };
  const main = kind === 'spout' ? rates.emitted : rates.executed;
  const title = `emitted ${fmtNum(rates.emitted)}/s, executed ${fmtNum(rates.executed)}/s, acked ${fmtNum(rates.acked)}/s, failed ${fmtNum(rates.failed)}/s`;
  return { text: `${fmtNum(main)}/s`, cls: 'num', title };
}

// One row per component, followed by its task rows when expanded.
function renderComponents() {
  const t = topo.data;
  if (!t) return;
  const planned = new Map(t.plan.components.map((c) => [c.name, c]));
  const rows = [];
  for (const c of t.components) {
    const open = topo.expanded.has(c.name);
    const ratio = clamp01(c.backpressure_ratio);
    rows.push({
      key: `c:${c.name}`,
      attrs: { 'data-component': c.name, class: `component-row${open ? ' open' : ''}`, 'aria-expanded': open },
      cells: [
        { text: c.name, cls: 'name' },
        c.kind,
        { text: topoLocation(c.line), cls: 'mono' },
        { text: planned.get(c.name)?.tasks ?? c.tasks.length, cls: 'num' },
        { text: `${fmtNum(c.executed)} / ${fmtNum(c.emitted)}`, cls: 'num' },
        rateCell(c.rate_10s, c.kind),
        rateCell(c.rate_10m, c.kind),
        { text: fmtNum(c.acked), cls: 'num' },
        { text: fmtNum(c.failed), cls: c.failed ? 'num bad' : 'num' },
        { text: fmtLatency(c.latency_ms), cls: 'num' },
        { text: fmtNum(c.queue_depth), cls: 'num' },
        { text: fmtPercent(ratio), cls: 'num', title: `${fmtMs(c.backpressure_ms)} blocked sending downstream`, background: backpressureFill(ratio) },
      ],
    });
    if (open) rows.push(...c.tasks.map((task) => taskRow(c, task)));
  }
  syncRows($('#components tbody'), rows, 'No components.');
}

function taskRow(c, task) {
  return {
    key: `t:${c.name}:${task.task}`,
    attrs: { class: 'task-row', 'data-parent': c.name, 'data-task': task.task },
    cells: [
      { text: `task ${task.task}`, cls: 'name' },
      `worker ${task.worker}`,
      '', '',
      { text: `${fmtNum(task.executed)} / ${fmtNum(task.emitted)}`, cls: 'num' },
      '', '',
      { text: fmtNum(task.acked), cls: 'num' },
      { text: fmtNum(task.failed), cls: task.failed ? 'num bad' : 'num' },
      '',
      { text: fmtNum(task.queue_depth), cls: 'num' },
      { text: fmtMs(task.backpressure_ms), cls: 'num', title: 'time blocked sending downstream' },
    ],
  };
}

function renderErrors(t) {
  const rows = t.errors.map((e, i) => ({
    key: `${e.time_ms}:${i}`,
    attrs: { class: 'error-row', 'data-component': e.component },
    cells: [
      { text: fmtClock(e.time_ms), cls: 'mono' },
      e.component,
      { text: topoLocation(e.line), cls: 'mono' },
      { text: e.task, cls: 'num' },
      e.worker,
      { text: e.message, cls: 'message' },
    ],
  }));
  syncRows($('#errors tbody'), rows, 'No errors reported.');
}

function renderWorkers(t) {
  const rows = t.workers.map((w) => ({
    key: String(w.index),
    attrs: { 'data-worker': w.index },
    cells: [
      { text: w.index, cls: 'num' },
      w.supervisor,
      { text: `${w.host}:${w.port}`, cls: 'mono' },
      { text: w.state, pill: `state state-${w.state}` },
      { text: w.restarts, cls: 'num' },
      w.last_exit ?? '—',
      fmtAgo(w.last_heartbeat_ms),
      { text: w.executors.join(', '), cls: 'executors' },
    ],
  }));
  syncRows($('#workers tbody'), rows, 'No workers assigned.');
}

// The checkpoints box (when the topology checkpoints) and the plan's settings and config.
function renderBoxes(t) {
  $('#checkpoints-box').hidden = !t.checkpoints;
  if (t.checkpoints) renderKv($('#checkpoints'), Object.entries(t.checkpoints).map(([k, v]) => [fmtKey(k), fmtValue(k, v)]));
  const plan = t.plan;
  renderKv($('#config'), [
    ['workers', String(plan.workers)],
    ['ackers', String(plan.ackers)],
    ['chains', String(plan.chains.length)],
    ...Object.entries(plan.config).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]),
  ]);
}

/* ---------- Start ---------- */

// Which page this is: /topologies/{id} or the cluster page.
function route() {
  const match = location.pathname.match(/^\/topologies\/([^/]+)\/?$/);
  if (!match) return { page: 'cluster' };
  try {
    return { page: 'topology', id: decodeURIComponent(match[1]) };
  } catch {
    return { page: 'topology', id: match[1] };
  }
}

async function start() {
  $('#login').addEventListener('submit', submitLogin);
  $('#login-cancel').addEventListener('click', () => closeLogin(false));
  $('#login-button').addEventListener('click', () => requestLogin(true));
  $('#logout-button').addEventListener('click', logout);
  $('#banner-close').addEventListener('click', () => clearBanner(bannerSource));

  for (;;) { // Nimbus may be restarting: keep asking for the session.
    try {
      await loadSession();
      clearBanner('session');
      break;
    } catch (err) {
      showBanner(err.message, 'session');
      await sleep(2000);
    }
  }
  if (needsSecret() && !session.public_read) await requestLogin(false);
  const page = route();
  if (page.page === 'topology') startTopologyPage(page.id);
  else startClusterPage();
}

start();
