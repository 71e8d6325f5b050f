// The DOIN node dashboard: one snapshot for the first paint, then deltas over server-sent
// events. Plain JavaScript, SVG charts, nothing fetched from elsewhere.
"use strict";

const MAX_BLOCKS = 50, MAX_ROUNDS = 240, UNITS = 1e8;
const MAX_RECORDS = 2000, MAX_NODE_SERIES = 10;
const state = { status: null, blocks: [], rounds: {}, accepted: {}, progress: {}, progressHeight: -1, ready: false, queued: [] };
window.dashboardLoadedAt = Date.now(); // changes only if the page reloads (the browser test reads it)

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const num = (v, d = 4) => (v === null || v === undefined || !isFinite(v)) ? "-" : Number(v).toFixed(d);
const time = (t) => new Date(t * 1000).toLocaleTimeString();

// A line chart: series of [x, y] points, an optional horizontal target line.
function chart(svg, points, opts = {}) {
  const W = svg.clientWidth || 400, H = svg.clientHeight || 180, L = 52, R = 8, T = 8, B = 20;
  const pts = points.filter((p) => p[1] !== null && isFinite(p[1]));
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.dataset.points = String(pts.length);
  if (!pts.length) { svg.innerHTML = `<text x="${W / 2 - 30}" y="${H / 2}">no data yet</text>`; return; }
  const ys = pts.map((p) => p[1]).concat(opts.target !== undefined && opts.target !== null ? [opts.target] : []);
  let [x0, x1] = [pts[0][0], pts[pts.length - 1][0]], [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - R), sy = (y) => T + (y1 - y) / (y1 - y0) * (H - T - B);
  const fx = opts.xfmt || ((x) => String(Math.round(x)));
  let s = `<line class="axis" x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/><line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/>`;
  s += `<text x="2" y="${T + 8}">${num(y1, 3)}</text><text x="2" y="${H - B}">${num(y0, 3)}</text>`;
  s += `<text x="${L}" y="${H - 4}">${esc(fx(x0))}</text><text x="${W - R - 60}" y="${H - 4}">${esc(fx(x1))}</text>`;
  if (opts.target !== undefined && opts.target !== null) {
    s += `<line class="target" x1="${L}" x2="${W - R}" y1="${sy(opts.target)}" y2="${sy(opts.target)}"><title>target ${opts.target}</title></line>`;
  }
  s += `<polyline points="${pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ")}"/>`;
  if (pts.length <= 80) s += pts.map((p) => `<circle r="2.5" cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}"/>`).join("");
  svg.innerHTML = s;
}

// Best-so-far step lines: the network's (thick) and one per node, each [[t, y, ...]].
function stepChart(svg, network, nodes, opts = {}) {
  const W = svg.clientWidth || 400, H = svg.clientHeight || 180, L = 52, R = 8, T = 8, B = 20;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.dataset.points = String(network.length);
  svg.dataset.nodes = String(nodes.length);
  const all = network.concat(...nodes.map((n) => n.points)).filter((p) => isFinite(p[1]));
  if (!all.length) { svg.innerHTML = `<text x="${W / 2 - 30}" y="${H / 2}">no accepted optimae yet</text>`; return ""; }
  const ys = all.map((p) => p[1]).concat(opts.target !== undefined && opts.target !== null ? [opts.target] : []);
  const xs = all.map((p) => p[0]).concat(opts.until ? [opts.until] : []);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const sx = (x) => L + (x - x0) / (x1 - x0) * (W - L - R), sy = (y) => T + (y1 - y) / (y1 - y0) * (H - T - B);
  const steps = (pts) => {
    const out = [];
    pts.forEach((p, i) => { if (i) out.push([p[0], pts[i - 1][1]]); out.push([p[0], p[1]]); });
    if (pts.length) out.push([x1, pts[pts.length - 1][1]]);
    return out.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
  };
  let s = `<line class="axis" x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/><line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/>`;
  s += `<text x="2" y="${T + 8}">${num(y1, 3)}</text><text x="2" y="${H - B}">${num(y0, 3)}</text>`;
  s += `<text x="${L}" y="${H - 4}">${esc(time(x0))}</text><text x="${W - R - 60}" y="${H - 4}">${esc(time(x1))}</text>`;
  if (opts.target !== undefined && opts.target !== null) {
    s += `<line class="target" x1="${L}" x2="${W - R}" y1="${sy(opts.target)}" y2="${sy(opts.target)}"><title>target ${opts.target}</title></line>`;
  }
  let legend = "";
  nodes.forEach((n, i) => {
    const color = `hsl(${Math.round(i * 137.5) % 360} 60% 45%)`;
    s += `<polyline class="node" style="stroke:${color}" points="${steps(n.points)}"><title>${esc(n.name)}</title></polyline>`;
    legend += `<span><i style="background:${color}"></i><span class="mono">${esc(n.name)}</span> ${num(n.points[n.points.length - 1][1])}</span>`;
  });
  s += `<polyline class="network" points="${steps(network)}"><title>network</title></polyline>`;
  if (network.length <= 80) s += network.map((p) => `<circle r="3" cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}"><title>${num(p[1])} by ${esc(p[2])} in block ${p[3]}</title></circle>`).join("");
  svg.innerHTML = s;
  return `<span><i class="network"></i>network ${num(network.length ? network[network.length - 1][1] : null)}</span>` + legend;
}

// A block's accepted optimae extend the progress series (once per block).
function addProgress(b) {
  if (b.index <= state.progressHeight) return;
  state.progressHeight = b.index;
  for (const o of b.optimae) {
    if (!isFinite(o.performance)) continue;
    const pr = (state.progress[o.domain] ||= { network: [], nodes: {} });
    const net = pr.network[pr.network.length - 1];
    if (!net || o.performance > net[1]) pr.network.push([b.time, o.performance, o.optimizer, b.index]);
    const mine = (pr.nodes[o.optimizer] ||= []);
    const last = mine[mine.length - 1];
    if (!last || o.performance > last[1]) mine.push([b.time, o.performance, b.index]);
    if (pr.network.length > MAX_RECORDS) pr.network.shift();
    if (mine.length > MAX_RECORDS) mine.shift();
  }
}

function roundsPerMinute(ring) {
  if (!ring || ring.length < 2) return 0;
  const last = ring[ring.length - 1], since = last[2] - 60;
  const first = ring.find((p) => p[2] >= since) || ring[0];
  const minutes = (last[2] - first[2]) / 60;
  return minutes > 0 ? (last[0] - first[0]) / minutes : 0;
}

function domainCard(d) {
  let el = $(`domain-${d.domain_id}`);
  if (!el) {
    el = document.createElement("div");
    el.className = "domain";
    el.id = `domain-${d.domain_id}`;
    el.innerHTML = `<h3></h3><div class="row">
      <figure><figcaption>best performance by round (dashed: target)</figcaption><svg class="chart by-round"></svg></figure>
      <figure><figcaption>best performance over time (dashed: target)</figcaption><svg class="chart by-time"></svg></figure>
      <figure><figcaption>best on chain over time: network (thick) and each node</figcaption><svg class="chart progress"></svg><div class="legend"></div></figure>
      <div><figcaption>accepted optimae by node</figcaption><table class="accepted"><tbody></tbody></table></div></div>`;
    $("domains").appendChild(el);
  }
  return el;
}

function renderDomain(id) {
  const d = (state.status?.domains || []).find((x) => x.domain_id === id) || { domain_id: id };
  const el = domainCard(d), ring = state.rounds[id] || [];
  const roles = [d.optimize && "optimize", d.evaluate && "evaluate", d.synthetic && "synthetic data"].filter(Boolean).join(", ") || "relay";
  el.querySelector("h3").innerHTML = `${esc(id)} <span class="mono">${esc(roles)} · round ${d.round ?? "-"} · best ${num(d.best)} · target ${num(d.target)} · ` +
    `${roundsPerMinute(ring).toFixed(1)} rounds/min · committed ${d.committed ?? 0} / accepted ${d.accepted ?? 0} / rejected ${d.rejected ?? 0}${d.converged ? " · target reached" : ""}</span>`;
  chart(el.querySelector(".by-round"), ring.map((p) => [p[0], p[1]]), { target: d.target });
  chart(el.querySelector(".by-time"), ring.map((p) => [p[2], p[1]]), { target: d.target, xfmt: time });
  const pr = state.progress[id] || { network: [], nodes: {} };
  const nodes = Object.entries(pr.nodes).filter(([, p]) => p.length)
    .sort((a, b) => b[1][b[1].length - 1][1] - a[1][a[1].length - 1][1]).slice(0, MAX_NODE_SERIES)
    .map(([name, points]) => ({ name, points }));
  const lastBlock = state.blocks[state.blocks.length - 1];
  el.querySelector(".legend").innerHTML = stepChart(el.querySelector(".progress"), pr.network, nodes, { target: d.target, until: lastBlock?.time });
  const acc = Object.entries(state.accepted[id] || {}).sort((a, b) => b[1] - a[1]);
  el.querySelector(".accepted tbody").innerHTML = acc.map(([n, c]) => `<tr><td class="mono">${esc(n)}</td><td>${c}</td></tr>`).join("") || "<tr><td>none yet</td></tr>";
}

function renderStatus() {
  const s = state.status;
  if (!s) return;
  $("peer-id").textContent = (s.peer_id || "").slice(0, 12);
  $("height").textContent = s.height;
  $("tip").textContent = (s.tip_hash || "").slice(0, 16);
  $("threshold").textContent = num(s.threshold);
  $("pending").textContent = `${s.pending_optimae} pending optimae, sum ${num(s.pending_sum)}`;
  $("blocktime").textContent = `${num(s.ema_block_time, 1)} / ${num(s.target_block_time, 0)} s`;
  $("finalized").textContent = `finalized ${s.finalized_height}${s.solo ? " · solo chain" : ""}`;
  $("peer-count").textContent = s.peer_count;
  $("sync").textContent = s.sync_peer_height > s.height ? `syncing: ${s.height} / ${s.sync_peer_height}` : "in sync";
  $("tasks").textContent = `${s.tasks.pending} / ${s.tasks.claimed} / ${s.tasks.completed}`;
  $("balance").textContent = `${num(s.balance_units / UNITS, 2)} DOIN`;
  $("supply").textContent = `supply ${num(s.supply_units / UNITS, 2)} DOIN`;
  const peers = s.peers.length ? s.peers : s.endpoints.map((e) => ({ peer_id: e }));
  $("peers").querySelector("tbody").innerHTML = peers.map((p) => `<tr><td class="mono">${esc(String(p.peer_id ?? "").slice(0, 12))}</td>` +
    `<td>${esc(p.address ? `${p.address}:${p.port ?? ""}` : p.endpoint ?? "")}</td><td>${num(p.score, 2)}</td>` +
    `<td>${p.latency_ms !== undefined ? num(p.latency_ms, 0) + " ms" : "-"}</td><td>${p.last_seen ? esc(Math.max(0, Math.round(Date.now() / 1000 - p.last_seen)) + " s ago") : "-"}</td></tr>`).join("") || "<tr><td>no peers</td></tr>";
  $("holders").querySelector("tbody").innerHTML = s.top_holders.map(([p, a]) => `<tr><td class="mono">${esc(p)}</td><td>${num(a / UNITS, 2)}</td></tr>`).join("");
  for (const d of s.domains) renderDomain(d.domain_id);
}

function blockRow(b, isNew) {
  const more = b.optimae.length > 5 ? `<br>+${b.optimae.length - 5} more` : "";
  const opt = b.optimae.slice(0, 5).map((o) => `${esc(o.domain)}: ${num(o.performance)} by <span class="mono">${esc(o.optimizer)}</span>`).join("<br>");
  return `<tr data-index="${b.index}"${isNew ? ' class="new"' : ""}><td>${b.index}</td><td>${time(b.time)}</td><td class="mono">${esc(b.hash)}</td>` +
    `<td class="mono">${esc(b.generator)}</td><td>${opt ? opt + more : "-"}</td><td>${num(b.sum)} / ${num(b.threshold)}</td></tr>`;
}

function renderChain(newIndex) {
  const bs = state.blocks;
  $("blocks").querySelector("tbody").innerHTML = bs.slice().reverse().map((b) => blockRow(b, b.index === newIndex)).join("");
  chart($("chart-threshold"), bs.filter((b) => b.index > 0).map((b) => [b.index, b.threshold]));
  const times = [];
  for (let i = 1; i < bs.length; i++) if (bs[i - 1].index > 0 && bs[i].index === bs[i - 1].index + 1) times.push([bs[i].index, bs[i].time - bs[i - 1].time]);
  chart($("chart-blocktime"), times);
}

function onBlock(b) {
  const last = state.blocks[state.blocks.length - 1];
  if (last && b.index <= last.index) return;
  state.blocks.push(b);
  if (state.blocks.length > MAX_BLOCKS) state.blocks.shift();
  addProgress(b);
  for (const o of b.optimae) {
    const m = (state.accepted[o.domain] ||= {});
    m[o.optimizer] = (m[o.optimizer] || 0) + 1;
    renderDomain(o.domain);
  }
  if (state.status && b.index >= state.status.height) { // the status sample may lag the block
    state.status.height = b.index + 1;
    $("height").textContent = state.status.height;
    $("tip").textContent = b.hash;
  }
  renderChain(b.index);
}

function onRound({ domain, point }) {
  const ring = (state.rounds[domain] ||= []);
  const last = ring[ring.length - 1];
  if (last && point[0] < last[0]) return;
  ring.push(point);
  if (ring.length > MAX_ROUNDS) ring.shift();
  renderDomain(domain);
}

function apply(kind, data) {
  if (kind === "block") onBlock(data);
  else if (kind === "round") onRound(data);
  else if (kind === "status") { state.status = data; renderStatus(); }
  else if (kind === "resync") loadSnapshot();
}

// Experiments imported from reference chains: an archive beside the live domains.
function renderImported(rows) {
  $("imported-history").hidden = !rows.length;
  $("imported").querySelector("tbody").innerHTML = rows.map((r) => `<tr class="imported"><td>${esc(r.domain)}</td><td class="mono">${esc(r.optimizer)}</td><td class="mono">${esc(r.experiment ?? "-")}</td><td>${esc(r.optimae)}</td><td>${esc(r.first_block)}–${esc(r.last_block)}</td><td>${num(r.last_performance)}</td><td>${esc(r.last_time)}</td><td class="mono">${esc(r.source)}</td></tr>`).join("");
}

async function loadSnapshot() {
  state.ready = false;
  const snap = await (await fetch("/dashboard/snapshot")).json();
  state.status = snap.status && Object.keys(snap.status).length ? snap.status : null;
  state.blocks = snap.blocks;
  state.rounds = snap.rounds;
  state.accepted = {};
  for (const r of snap.accepted_by_node) (state.accepted[r.domain] ||= {})[r.optimizer] = r.accepted;
  state.progress = snap.best_over_time || {};
  state.progressHeight = -1;
  for (const pr of Object.values(state.progress)) {
    for (const p of pr.network) state.progressHeight = Math.max(state.progressHeight, p[3]);
    for (const pts of Object.values(pr.nodes)) for (const p of pts) state.progressHeight = Math.max(state.progressHeight, p[2]);
  }
  for (const b of state.blocks) addProgress(b);
  renderImported(snap.imported || []);
  for (const id of new Set([...Object.keys(state.rounds), ...Object.keys(state.progress)])) renderDomain(id);
  renderStatus();
  renderChain();
  state.ready = true;
  for (const [k, d] of state.queued.splice(0)) apply(k, d);
}

function connect() {
  const es = new EventSource("/dashboard/events");
  es.onopen = () => { $("live").textContent = "live"; $("live").className = "badge on"; loadSnapshot(); };
  es.onerror = () => { $("live").textContent = "reconnecting"; $("live").className = "badge off"; };
  for (const kind of ["block", "round", "status", "resync"]) {
    es.addEventListener(kind, (e) => {
      const data = JSON.parse(e.data);
      if (state.ready) apply(kind, data); else state.queued.push([kind, data]);
    });
  }
}

connect();
