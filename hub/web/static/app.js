// Vigie technician dashboard: vanilla JS, no dependencies, nothing loaded from outside the hub.
//
// Reads the hub's JSON API (relative to this page, so it also works behind a path prefix) with the bearer
// token from the OAuth2 password endpoint. Tokens live in sessionStorage only: closing the tab signs out.
// Every value from the API reaches the page through textContent or SVG attributes, never as HTML.

const API = new URL("../api/v1/", window.location.href);
const REFRESH_MS = 15_000;
const SPARK_TTL_MS = 60_000;
const HOUR_MS = 3_600_000;
const MAX_PARALLEL = 6;
const MAX_SPARKLINES = 120;
const SVG_NS = "http://www.w3.org/2000/svg";

class Unauthorized extends Error {}

class HttpError extends Error {
  constructor(status, detail) {
    super(`HTTP ${status}${detail ? `: ${detail}` : ""}`);
    this.status = status;
  }
}

// -- tokens ---------------------------------------------------------------------------------------------
const auth = {
  get access() { return sessionStorage.getItem("vigie.access"); },
  get refresh() { return sessionStorage.getItem("vigie.refresh"); },
  save(body) {
    sessionStorage.setItem("vigie.access", body.access_token);
    if (body.refresh_token) sessionStorage.setItem("vigie.refresh", body.refresh_token);
  },
  clear() {
    sessionStorage.removeItem("vigie.access");
    sessionStorage.removeItem("vigie.refresh");
  },
};

async function errorDetail(response) {
  try {
    const body = await response.json();
    return typeof body.detail === "string" ? body.detail : "";
  } catch {
    return "";
  }
}

async function login(username, password) {
  const response = await fetch(new URL("auth/token", API), {
    method: "POST",
    body: new URLSearchParams({ username, password }),
    headers: { Accept: "application/json" },
    cache: "no-store",
  });
  if (!response.ok) throw new HttpError(response.status, await errorDetail(response));
  auth.save(await response.json());
}

let refreshing = null;

function renewTokens() {
  // One renewal at a time, shared by every request that got a 401 meanwhile.
  if (!auth.refresh) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const response = await fetch(new URL("auth/refresh", API), {
        method: "POST",
        body: JSON.stringify({ refresh_token: auth.refresh }),
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        cache: "no-store",
      });
      if (!response.ok) return false;
      auth.save(await response.json());
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function api(path, params = {}, retry = true) {
  const url = new URL(path, API);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
  }
  const response = await fetch(url, {
    headers: { Accept: "application/json", Authorization: `Bearer ${auth.access}` },
    cache: "no-store",
  });
  if (response.status === 401) {
    if (retry && (await renewTokens())) return api(path, params, false);
    throw new Unauthorized();
  }
  if (!response.ok) throw new HttpError(response.status, await errorDetail(response));
  return response.json();
}

async function mapLimit(items, fn, limit = MAX_PARALLEL) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// -- DOM helpers ----------------------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  node.append(...children);
  return node;
}

const $ = (id) => document.getElementById(id);

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function ago(ms) {
  if (ms === null || ms === undefined) return "never";
  const seconds = Math.round((Date.now() - ms) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

function timeEl(ms, text) {
  const date = new Date(ms);
  return el("time", { datetime: date.toISOString(), title: dateTime.format(date) }, text ?? ago(ms));
}

function fixed(value, digits = 3) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "—";
}

function badge(kind, text) {
  return el("span", { class: `badge ${kind}` }, text);
}

// -- state ----------------------------------------------------------------------------------------------
const state = {
  data: null,
  loading: false,
  timer: null,
  sparks: new Map(), // "gateway/equipment" -> { at, status, points }
};

// -- views ----------------------------------------------------------------------------------------------
function showLogin(message = "") {
  clearInterval(state.timer);
  state.timer = null;
  state.data = null;
  state.sparks.clear();
  $("dashboard").hidden = true;
  $("session").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message;
  $("password").value = "";
  $("username").focus();
}

async function showDashboard() {
  const me = await api("auth/me");
  $("user").replaceChildren(el("span", {}, me.name), " ", el("span", { class: "role" }, `(${me.role})`));
  $("login-view").hidden = true;
  $("session").hidden = false;
  $("dashboard").hidden = false;
  await refresh(true);
  clearInterval(state.timer);
  state.timer = setInterval(() => refresh(false), REFRESH_MS);
}

function banner(text) {
  $("banner").textContent = text;
  $("banner").hidden = !text;
}

async function refresh(force) {
  if (state.loading) return;
  state.loading = true;
  $("sites").setAttribute("aria-busy", "true");
  $("refresh").disabled = true;
  try {
    const [gateways, equipment, starts, ends, drift] = await Promise.all([
      api("gateways"),
      api("equipment"),
      api("events", { kind: "anomaly_start", limit: 50 }),
      api("events", { kind: "anomaly_end", limit: 50 }),
      api("drift", { drifting: true }).catch((error) => { if (error instanceof Unauthorized) throw error; return []; }),
    ]);
    const details = await mapLimit(gateways, (g) => api(`gateways/${encodeURIComponent(g.id)}`).catch(() => null));
    const detailById = new Map(details.filter(Boolean).map((d) => [d.id, d]));
    await loadSparklines(equipment, force);
    const events = [...starts.items, ...ends.items].sort((a, b) => b.ts_ms - a.ts_ms || b.id - a.id).slice(0, 40);
    state.data = { gateways, equipment, events, drift, details: detailById };
    render();
    banner("");
    $("updated").textContent = `Updated ${clock.format(new Date())}`;
  } catch (error) {
    if (error instanceof Unauthorized) {
      auth.clear();
      showLogin("Your session has ended. Please sign in again.");
      return;
    }
    const when = state.data ? ` Showing data from ${$("updated").textContent.replace("Updated ", "")}.` : "";
    banner(`Could not refresh from the hub (${error.message}).${when}`);
  } finally {
    state.loading = false;
    $("sites").setAttribute("aria-busy", "false");
    $("refresh").disabled = false;
  }
}

async function loadSparklines(equipment, force) {
  const now = Date.now();
  const stale = equipment
    .filter((e) => {
      const cached = state.sparks.get(`${e.gateway}/${e.id}`);
      return force || !cached || cached.status !== e.status || now - cached.at > SPARK_TTL_MS;
    })
    .slice(0, MAX_SPARKLINES);
  await mapLimit(stale, async (e) => {
    try {
      const series = await api("series/scores", {
        gateway: e.gateway, equipment: e.id, start: now - HOUR_MS, end: now + 1000, max_points: 120,
      });
      state.sparks.set(`${e.gateway}/${e.id}`, {
        at: now, status: e.status, points: series.points, interval: series.interval_ms,
      });
    } catch (error) {
      if (error instanceof Unauthorized) throw error;
    }
  });
}

function matches(text, needle) {
  return text.toLowerCase().includes(needle);
}

function render() {
  const { gateways, equipment, events, drift, details } = state.data;
  const online = gateways.filter((g) => g.status === "online").length;
  const anomalous = equipment.filter((e) => e.status === "anomaly").length;
  setTile("tile-gateways", `${online} / ${gateways.length}`, online < gateways.length ? "warning" : "");
  setTile("tile-equipment", String(equipment.length), "");
  setTile("tile-anomalies", String(anomalous), anomalous ? "alerting" : "");
  setTile("tile-drift", String(drift.length), drift.length ? "warning" : "");
  renderSites(gateways, equipment, details);
  renderEvents(events);
  renderDrift(drift);
}

function setTile(id, value, level) {
  const tile = $(id);
  tile.querySelector(".tile-value").textContent = value;
  tile.className = `tile ${level}`.trim();
}

function renderSites(gateways, equipment, details) {
  const needle = $("filter").value.trim().toLowerCase();
  const bySite = new Map();
  for (const gateway of gateways) {
    const items = equipment.filter((e) => e.gateway === gateway.id);
    const gatewayHit = !needle || matches(gateway.site, needle) || matches(gateway.id, needle);
    const shown = gatewayHit ? items : items.filter((e) => matches(e.id, needle));
    if (!gatewayHit && shown.length === 0) continue;
    if (!bySite.has(gateway.site)) bySite.set(gateway.site, []);
    bySite.get(gateway.site).push(gatewayCard(gateway, details.get(gateway.id), shown));
  }
  const container = $("sites");
  if (bySite.size === 0) {
    const text = gateways.length ? "Nothing matches the filter." : "No gateway is registered yet.";
    container.replaceChildren(el("p", { class: "empty" }, text));
    return;
  }
  const sections = [...bySite.keys()].sort().map((site) => {
    const headingId = `site-${site}`;
    return el("section", { class: "site", "aria-labelledby": headingId },
      el("h2", { class: "site-title", id: headingId }, "Site ", el("strong", {}, site)),
      el("div", { class: "gateways" }, bySite.get(site)));
  });
  container.replaceChildren(...sections);
}

const GATEWAY_STATUS = {
  online: ["ok", "Online"],
  offline: ["bad", "Offline"],
  never_seen: ["off", "Never seen"],
  unknown: ["off", "Unknown"],
};

function gatewayCard(gateway, detail, items) {
  const reported = detail?.reported_state ?? {};
  const active = reported.models?.active;
  const outbox = reported.outbox;
  const [kind, label] = GATEWAY_STATUS[gateway.status] ?? ["off", gateway.status];
  const facts = el("dl", { class: "facts" },
    fact("Cohort", el("span", { class: "cohort" }, gateway.cohort)),
    fact("Model", active ? `${active.name} ${active.version}` : "—"),
    fact("Outbox", outbox ? `${outbox.depth} / ${outbox.capacity}` : "—"),
    fact("Last seen", gateway.last_seen_ms ? timeEl(gateway.last_seen_ms) : "never"),
    reported.agent_version ? fact("Agent", reported.agent_version) : null);
  const headingId = `gw-${gateway.id}`;
  return el("article", { class: "card gateway", "data-gateway": gateway.id, "aria-labelledby": headingId },
    el("div", { class: "gateway-head" },
      el("h3", { id: headingId }, gateway.id),
      badge(kind, label)),
    facts,
    equipmentTable(gateway, items));
}

function fact(name, value) {
  return el("div", {}, el("dt", {}, name), el("dd", { "data-fact": name.toLowerCase().replace(" ", "-") }, value));
}

const EQUIPMENT_STATUS = {
  normal: ["ok", "Normal"],
  anomaly: ["bad", "Anomaly"],
  unavailable: ["warn", "Unavailable"],
};

function equipmentTable(gateway, items) {
  if (items.length === 0) return el("p", { class: "empty" }, "No equipment reported yet.");
  const rows = items.map((e) => {
    const [kind, label] = EQUIPMENT_STATUS[e.status] ?? ["off", e.status];
    const latest = e.latest;
    const score = latest
      ? el("td", { class: "num c-score" },
        el("span", { class: "score", "data-score": "" }, fixed(latest.anomaly_score)),
        el("div", { class: "small muted nowrap" }, `limit ${fixed(latest.threshold)} · `, timeEl(latest.ts_ms)))
      : el("td", { class: "num muted c-score" }, "—");
    return el("tr", { "data-equipment": e.id, class: e.status === "anomaly" ? "anomalous" : "" },
      el("th", { scope: "row", class: "c-name" }, e.id),
      el("td", { class: "c-state" }, badge(kind, label),
        e.status_since_ms ? el("div", { class: "small muted nowrap" }, "since ", timeEl(e.status_since_ms)) : null),
      score,
      el("td", { class: "c-spark" }, sparkline(state.sparks.get(`${e.gateway}/${e.id}`), e.id, latest?.anomaly_score)));
  });
  return el("div", { class: "table-wrap" },
    el("table", { class: "equipment-table" },
      el("caption", { class: "visually-hidden" }, `Equipment on gateway ${gateway.id}`),
      el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, "Equipment"),
        el("th", { scope: "col" }, "State"),
        el("th", { scope: "col", class: "num" }, "Latest score"),
        el("th", { scope: "col" }, "Last hour"))),
      el("tbody", {}, rows)));
}

function flaggedText(count, interval) {
  // Aggregated series (interval_ms set) hold the maximum of each interval: count intervals, not readings.
  if (!interval) return `${count} ${count === 1 ? "reading" : "readings"} flagged`;
  const minutes = Math.max(1, Math.round(interval / 60_000));
  return `flagged in ${count} ${count === 1 ? "interval" : "intervals"} of ${minutes} min`;
}

function sparkline(series, name, latest) {
  const width = 180;
  const height = 36;
  const values = (series?.points ?? []).filter((p) => typeof p.values.anomaly_score === "number");
  if (values.length === 0) return el("span", { class: "small muted" }, "No data in the last hour");
  const scores = values.map((p) => p.values.anomaly_score);
  const threshold = values.map((p) => p.values.threshold).find((t) => typeof t === "number");
  const hits = values.filter((p) => p.values.is_anomaly >= 1);
  const end = Date.now();
  const start = end - HOUR_MS;
  const high = Math.max(...scores, threshold ?? -Infinity);
  const low = Math.min(...scores, 0);
  const span = high - low || 1;
  const x = (ts) => (((ts - start) / HOUR_MS) * (width - 4) + 2).toFixed(1);
  const y = (v) => (height - 3 - ((v - low) / span) * (height - 6)).toFixed(1);
  const label = `Anomaly score of ${name} over the last hour: latest ${fixed(latest ?? scores.at(-1))}, `
    + `highest ${fixed(Math.max(...scores))}`
    + (threshold !== undefined ? `, threshold ${fixed(threshold)}` : "")
    + `, ${flaggedText(hits.length, series.interval)}`;
  const shapes = [svg("line", { class: "baseline", x1: 2, x2: width - 2, y1: height - 1.5, y2: height - 1.5 })];
  if (threshold !== undefined) {
    shapes.push(svg("line", { class: "threshold", x1: 2, x2: width - 2, y1: y(threshold), y2: y(threshold) }));
  }
  const coordinates = values.map((p) => `${x(Math.max(p.ts_ms, start))},${y(p.values.anomaly_score)}`).join(" ");
  shapes.push(svg("polyline", { class: "line", points: coordinates }));
  for (const p of hits.slice(-40)) {
    shapes.push(svg("circle", { class: "hit", cx: x(Math.max(p.ts_ms, start)), cy: y(p.values.anomaly_score), r: 2 }));
  }
  return svg("svg", { class: "spark", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    preserveAspectRatio: "none", "aria-label": label }, svg("title", {}, label), ...shapes);
}

const EVENT_TEXT = { anomaly_start: ["start", "Anomaly started"], anomaly_end: ["end", "Anomaly ended"] };

function renderEvents(events) {
  const list = $("events");
  if (events.length === 0) {
    list.replaceChildren(el("li", { class: "empty" }, "No anomaly reported."));
    return;
  }
  list.replaceChildren(...events.map((e) => {
    const [kind, text] = EVENT_TEXT[e.kind] ?? ["", e.kind];
    return el("li", { class: kind, "data-kind": e.kind, "data-equipment": e.equipment ?? "" },
      timeEl(e.ts_ms, `${dateTime.format(new Date(e.ts_ms))} · ${ago(e.ts_ms)}`),
      el("span", { class: "what" }, text), " ",
      el("span", { class: "where" }, `${e.equipment ?? "?"} @ ${e.gateway}`),
      el("div", { class: "small muted" }, `Site ${e.site}`,
        typeof e.score === "number" ? ` · score ${fixed(e.score)}` : "",
        e.model_version ? ` · model ${e.model} ${e.model_version}` : ""));
  }));
}

function renderDrift(drift) {
  const container = $("drift");
  if (drift.length === 0) {
    container.replaceChildren(el("p", { class: "empty" }, "No feature is drifting."));
    return;
  }
  const rows = drift.map((d) => el("tr", { "data-equipment": d.equipment, "data-feature": d.feature },
    el("td", { class: "drift-what" },
      el("span", { class: "feature" }, d.feature),
      el("div", { class: "small muted" }, el("strong", {}, d.equipment), ` @ ${d.gateway}`),
      el("div", { class: "small muted" }, `model ${d.model_version} · `, timeEl(d.ts_ms))),
    el("td", { class: "num" }, fixed(d.psi, 2)),
    el("td", { class: "num" }, fixed(d.js, 3))));
  container.replaceChildren(el("div", { class: "table-wrap" }, el("table", { class: "drift-table" },
    el("caption", { class: "visually-hidden" }, "Drifting features"),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, "Feature"),
      el("th", { scope: "col", class: "num", title: "Population stability index" }, "PSI"),
      el("th", { scope: "col", class: "num", title: "Jensen-Shannon divergence" }, "JS"))),
    el("tbody", {}, rows))));
}

// -- wiring ---------------------------------------------------------------------------------------------
function bind() {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = $("username").value.trim();
    const password = $("password").value;
    if (!username || !password) {
      $("login-error").textContent = "Enter your user name and password.";
      return;
    }
    $("login-submit").disabled = true;
    $("login-error").textContent = "";
    try {
      await login(username, password);
      await showDashboard();
      $("main").focus();
    } catch (error) {
      auth.clear();
      const text = error instanceof HttpError && error.status === 401 ? "Wrong user name or password."
        : error instanceof HttpError && error.status === 429 ? "Too many attempts. Wait a few minutes and try again."
          : `Cannot sign in (${error.message}).`;
      showLogin(text);
    } finally {
      $("login-submit").disabled = false;
    }
  });
  $("refresh").addEventListener("click", () => refresh(true));
  $("logout").addEventListener("click", () => {
    auth.clear();
    showLogin("You are signed out.");
  });
  $("filter").addEventListener("input", () => {
    if (state.data) renderSites(state.data.gateways, state.data.equipment, state.data.details);
  });
}

async function main() {
  bind();
  if (!auth.access) {
    showLogin();
    return;
  }
  try {
    await showDashboard();
  } catch (error) {
    auth.clear();
    showLogin(error instanceof Unauthorized ? "" : `Cannot reach the hub (${error.message}).`);
  }
}

main();
