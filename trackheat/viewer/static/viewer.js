// trackheat view: the page's whole logic. Plain JavaScript, no framework, no build step.
// Every picture is drawn by the server (trackheat's renderer, the same PNG as `trackheat export`);
// this file keeps the selection, builds the query strings and shows what comes back.
"use strict";

const $ = (s) => document.querySelector(s);
const state = {
  sessions: [], a: new Set(), b: new Set(), since: null, until: null, periods: [],
  generation: 0, options: null, brush: null,
};
let pending = {};

function fmtTime(t) {
  if (t == null) return "-";
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
function fmtDuration(s) {
  if (s == null) return "running";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}` : `${m}:${String(r).padStart(2, "0")}`;
}
function status(text) { $("#status").textContent = text || ""; }

// -- query strings ---------------------------------------------------------------
function chosen(set) { return state.sessions.filter((s) => set.has(s.id)); }
// Gaze sessions with their reference image are drawn as `trackheat gaze` draws them: sigma in bins, a bins control.
function isGaze(set) { const c = chosen(set); return c.length > 0 && c.every((s) => s.kind === "gaze"); }
// What a selection is drawn over, said under its picture (export and gaze use the last session's).
function backgroundText(set) {
  const c = chosen(set);
  if (!c.length) return "";
  const last = c[c.length - 1].background;
  if (last.kind === "reference" && !isGaze(set)) return "Drawn over: the outlines (mouse and gaze sessions together, as export draws them).";
  if (last.kind === "reference" && c.some((s) => s.background.text !== last.text)) return "Drawn over: the outline (not every session has this reference image).";
  return `Drawn over: ${last.text}.`;
}
function sigmaText() {
  const v = +$("#sigma").value;
  return v ? `${v} ${isGaze(state.a) ? "bins" : "px"}` : "default";
}
function ids(set) { return [...set].sort((x, y) => x - y).join(","); }
function options() {
  const o = { kind: $("#kind").value, monitor: $("#monitor").value, scale: $("#scale").value, colormap: $("#colormap").value, alpha: $("#alpha").value };
  const apps = [...$("#apps").selectedOptions].map((x) => x.value);
  if (apps.length) o.apps = apps.join(",");
  if (+$("#sigma").value > 0) o.sigma = $("#sigma").value;
  if (isGaze(state.a) && $("#bins").value !== String(state.options.defaults.bins)) o.bins = $("#bins").value;
  if (state.since != null) o.since = state.since;
  if (state.until != null) o.until = state.until;
  return o;
}
// The picture is drawn at the width it is shown at (export's --size), not at the desktop's: a
// 900 px wide figure costs a 900 px picture, a quarter of 1080p's pixels and bytes. Downloads
// are full size, as `trackheat export` writes them by default.
function displayWidth() {
  const w = Math.floor(($("#fig-a").clientWidth * (window.devicePixelRatio || 1)) / 16) * 16;
  const chosen = state.sessions.filter((s) => state.a.has(s.id) || state.b.has(s.id));
  const full = Math.max(0, ...chosen.map((s) => s.canvas[0]));
  return w >= 320 && w < full * 0.9 ? w : null;
}
function query(extra, full) {
  const o = Object.assign({ sessions: ids(state.a) }, options(), extra || {});
  const w = full ? null : displayWidth();
  if (w) o.size = String(w);
  o.g = state.generation;
  return new URLSearchParams(o).toString();
}

// -- fetching ----------------------------------------------------------------------
async function getJSON(url, key) {
  if (pending[key]) pending[key].abort();
  const ctl = (pending[key] = new AbortController());
  const r = await fetch(url, { signal: ctl.signal, credentials: "same-origin" });
  if (!r.ok) throw new Error(await r.text());
  return r.json();
}
async function showImage(img, cap, url, key) {
  if (pending[key]) pending[key].abort();
  const ctl = (pending[key] = new AbortController());
  const t0 = performance.now();
  let r;
  try {
    r = await fetch(url, { signal: ctl.signal, credentials: "same-origin" });
  } catch (e) {
    if (e.name === "AbortError") return;
    throw e;
  }
  if (!r.ok) {
    const msg = await r.text();
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.removeAttribute("src");
    img.dataset.url = "";
    cap.textContent = msg;
    return;
  }
  const blob = await r.blob();
  if (ctl.signal.aborted) return;
  const old = img.src;
  img.blob = blob; // what is shown, readable by tests and downloads without a second request
  img.src = URL.createObjectURL(blob);
  img.dataset.url = url;
  img.dataset.generation = String(state.generation);
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  const server = r.headers.get("x-render-ms");
  cap.textContent = `${(blob.size / 1024).toFixed(0)} KB, ${server ? server + " ms on the server, " : ""}${Math.round(performance.now() - t0)} ms in all`;
  document.body.dataset.shown = String(+(document.body.dataset.shown || 0) + 1);
}

// -- sessions ------------------------------------------------------------------------
async function loadSessions() {
  const data = await getJSON("/api/sessions", "sessions");
  state.sessions = data.sessions;
  state.generation = data.generation;
  $("#db").textContent = data.db;
  if (!state.options) {
    state.options = data.options;
    const d = data.options.defaults;
    fill($("#kind"), data.options.kinds, "moves");
    fill($("#scale"), data.options.scales, d.scale);
    fill($("#colormap"), data.options.colormaps, d.colormap);
    $("#alpha").value = d.alpha;
    $("#alpha-out").textContent = d.alpha;
    $("#bins").value = d.bins;
  }
  const known = new Set(state.sessions.map((s) => s.id));
  for (const set of [state.a, state.b]) for (const id of [...set]) if (!known.has(id)) set.delete(id);
  if (!state.a.size && state.sessions.length) state.a.add(state.sessions[state.sessions.length - 1].id);
  drawSessions();
  fillSelectionControls();
}
function fill(sel, values, chosen) {
  sel.replaceChildren(...values.map((v) => new Option(v, v, false, v === chosen)));
}
function drawSessions() {
  const rows = state.sessions.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.id = s.id;
    if (state.a.has(s.id)) tr.className = "sel-a";
    const box = (set, cls) => {
      const td = document.createElement("td");
      if (cls) td.className = cls;
      const c = document.createElement("input");
      c.type = "checkbox";
      c.checked = set.has(s.id);
      c.className = cls === "b" ? "pick-b" : "pick-a";
      c.addEventListener("change", () => { c.checked ? set.add(s.id) : set.delete(s.id); drawSessions(); fillSelectionControls(); selectionChanged(); });
      td.append(c);
      return td;
    };
    const cell = (text, cls) => { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; };
    tr.append(box(state.a), box(state.b, "b"), cell(s.id, "n"), cell(s.name), cell(s.kind), cell(s.source), cell(fmtTime(s.start)),
      cell(fmtDuration(s.duration)), cell(s.moves.toLocaleString(), "n"), cell(s.clicks.toLocaleString(), "n"), cell(s.apps.join(", ") || "-"));
    return tr;
  });
  $("#sessions tbody").replaceChildren(...rows);
}
function fillSelectionControls() {
  const chosen = state.sessions.filter((s) => state.a.has(s.id) || state.b.has(s.id));
  const apps = [...new Set(chosen.flatMap((s) => s.apps))].sort();
  const was = new Set([...$("#apps").selectedOptions].map((o) => o.value));
  $("#apps").replaceChildren(...apps.map((a) => new Option(a, a, false, was.has(a))));
  $("#apps").disabled = !apps.length;
  $("#apps").title = apps.length ? "" : "no application recorded in these sessions";
  const mons = Math.max(1, ...chosen.map((s) => s.monitors));
  $("#bins-box").hidden = !isGaze(state.a);
  const gazeWords = { moves: "moves (gaze: weight count)", dwell: "dwell (gaze: weight duration)" };
  for (const o of $("#kind").options) o.textContent = isGaze(state.a) && gazeWords[o.value] ? gazeWords[o.value] : o.value;
  $("#sigma-out").textContent = sigmaText();
  const m = $("#monitor").value;
  fill($("#monitor"), ["all", ...Array.from({ length: mons > 1 ? mons : 0 }, (_, i) => String(i + 1))], m);
}

// -- timeline and brush -----------------------------------------------------------------
async function loadTimeline() {
  if (!state.a.size) { state.periods = []; drawTimeline(); return; }
  const data = await getJSON(`/api/timeline?${new URLSearchParams({ sessions: ids(new Set([...state.a, ...state.b])), kind: $("#kind").value })}`, "timeline");
  state.periods = data.periods;
  drawTimeline();
}
function slotOf(x) {
  const c = $("#timeline"), n = state.periods.length;
  return Math.max(0, Math.min(n - 1, Math.floor((x / c.clientWidth) * n)));
}
function drawTimeline() {
  const c = $("#timeline"), dpr = window.devicePixelRatio || 1;
  c.width = c.clientWidth * dpr;
  c.height = c.clientHeight * dpr;
  const g = c.getContext("2d");
  g.scale(dpr, dpr);
  const w = c.clientWidth, h = c.clientHeight, n = state.periods.length;
  g.clearRect(0, 0, w, h);
  if (!n) return;
  const key = $("#kind").value === "clicks" ? "clicks" : $("#kind").value === "dwell" ? "dwell" : "moves";
  const top = Math.max(1, ...state.periods.map((p) => p[key]));
  const bw = w / n;
  let lastDay = "";
  state.periods.forEach((p, i) => {
    const inRange = (state.since == null || p.start + p.seconds > state.since) && (state.until == null || p.start < state.until);
    g.fillStyle = inRange ? "#f0a030" : "#5a544c";
    const bh = ((h - 16) * p[key]) / top;
    g.fillRect(i * bw + (bw > 3 ? 1 : 0), h - 14 - bh, Math.max(1, bw - (bw > 3 ? 2 : 0)), bh);
    const day = fmtTime(p.start).slice(0, 10);
    if (day !== lastDay) {
      lastDay = day;
      g.fillStyle = "#9a958f";
      g.fillText(day.slice(5), i * bw + 2, h - 2);
      g.fillRect(i * bw, 0, 1, h - 12);
    }
  });
  if (state.brush) {
    const [a, b] = [Math.min(...state.brush), Math.max(...state.brush)];
    g.fillStyle = "rgba(255,255,255,0.15)";
    g.fillRect(a * bw, 0, (b - a + 1) * bw, h - 12);
  }
}
function rangeText() {
  $("#range-text").textContent = state.since == null && state.until == null
    ? "all of the selection; drag over the bars to pick a range"
    : `${fmtTime(state.since)} to ${fmtTime(state.until)}`;
}
function setupBrush() {
  const c = $("#timeline");
  let down = null;
  c.addEventListener("mousedown", (e) => { if (!state.periods.length) return; down = slotOf(e.offsetX); state.brush = [down, down]; drawTimeline(); });
  c.addEventListener("mousemove", (e) => { if (down == null) return; state.brush = [down, slotOf(e.offsetX)]; drawTimeline(); });
  window.addEventListener("mouseup", () => {
    if (down == null) return;
    down = null;
    const [a, b] = [Math.min(...state.brush), Math.max(...state.brush)];
    state.since = state.periods[a].start;
    state.until = state.periods[b].start + state.periods[b].seconds;
    state.brush = null;
    rangeText();
    drawTimeline();
    pictureChanged();
  });
  $("#all-time").addEventListener("click", () => { state.since = state.until = null; rangeText(); drawTimeline(); pictureChanged(); });
}

// -- pictures, stats, downloads ------------------------------------------------------------
async function loadStats() {
  const table = $("#stats");
  if (!state.a.size) { table.replaceChildren(); return; }
  const q = new URLSearchParams({ sessions: ids(state.a), ...(state.since != null ? { since: state.since } : {}), ...(state.until != null ? { until: state.until } : {}) });
  const apps = [...$("#apps").selectedOptions].map((x) => x.value);
  if (apps.length) q.set("apps", apps.join(","));
  const s = await getJSON(`/api/stats?${q}`, "stats");
  table.dataset.json = JSON.stringify(s);
  table.dataset.query = q.toString(); // the selection these totals are of (sessions, apps, time range)
  table.replaceChildren(...Object.entries(s).map(([k, v]) => {
    const tr = document.createElement("tr");
    const a = document.createElement("td"), b = document.createElement("td");
    a.textContent = k;
    b.textContent = typeof v === "object" ? JSON.stringify(v) : String(v);
    tr.append(a, b);
    return tr;
  }));
}
function pictureChanged() {
  const mode = $("#compare").value;
  document.body.classList.toggle("compare", mode !== "off");
  $("#fig-b").hidden = mode !== "side";
  for (const k of ["heatmap", "overlay"]) $(`#dl-${k}`).href = state.a.size ? `/api/image/${k}.png?${query({ download: 1 }, true)}` : "";
  $("#dl-counts").href = state.a.size ? `/api/counts.csv?${query({}, true)}` : "";
  status("");
  $("#bg-a").textContent = mode === "diff" ? "" : backgroundText(state.a);
  $("#bg-b").textContent = backgroundText(state.b);
  if (!state.a.size) { $("#img-a").removeAttribute("src"); $("#cap-a").textContent = "tick a session"; return; }
  const work = [];
  if (mode === "diff") {
    if (!state.b.size) { $("#cap-a").textContent = "tick sessions in column B to compare"; return; }
    work.push(showImage($("#img-a"), $("#cap-a"), `/api/difference.png?${query({ b_sessions: ids(state.b) })}`, "img-a"));
  } else {
    work.push(showImage($("#img-a"), $("#cap-a"), `/api/image/overlay.png?${query()}`, "img-a"));
    if (mode === "side" && state.b.size) work.push(showImage($("#img-b"), $("#cap-b"), `/api/image/overlay.png?${query({ sessions: ids(state.b) })}`, "img-b"));
  }
  work.push(loadStats());
  Promise.all(work).catch((e) => { if (e.name !== "AbortError") status(String(e.message || e)); });
}
function selectionChanged() {
  state.since = state.until = null;
  rangeText();
  loadTimeline().catch((e) => e.name !== "AbortError" && status(e.message));
  pictureChanged();
}

// -- live ------------------------------------------------------------------------------------
function live() {
  const es = new EventSource("/api/events");
  es.addEventListener("hello", () => $("#live").classList.add("on"));
  es.addEventListener("change", async () => {
    try {
      await loadSessions();
      await loadTimeline();
      pictureChanged();
    } catch (e) { if (e.name !== "AbortError") status(e.message); }
  });
  es.onerror = () => $("#live").classList.remove("on");
}

// -- start -------------------------------------------------------------------------------------
let debounce = null;
function later() { clearTimeout(debounce); debounce = setTimeout(pictureChanged, 120); }
window.addEventListener("DOMContentLoaded", async () => {
  for (const id of ["#kind", "#apps", "#monitor", "#scale", "#colormap", "#compare"]) $(id).addEventListener("change", () => { if (id === "#kind") drawTimeline(); pictureChanged(); });
  $("#sigma").addEventListener("input", () => { $("#sigma-out").textContent = sigmaText(); later(); });
  $("#bins").addEventListener("change", pictureChanged);
  $("#alpha").addEventListener("input", () => { $("#alpha-out").textContent = $("#alpha").value; later(); });
  let resized = null;
  window.addEventListener("resize", () => { drawTimeline(); clearTimeout(resized); resized = setTimeout(pictureChanged, 300); });
  setupBrush();
  try {
    await loadSessions();
    selectionChanged();
  } catch (e) { status(e.message); }
  live();
});
