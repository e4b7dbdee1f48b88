// initlab playground: controls -> settings {dotted key: text} -> the server (one WebSocket) ->
// plots. Every setting is read on the server exactly as `initlab run --set key=text` reads it.
"use strict";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c"];
const MAX_HISTS = 12;
const PLOT_CFG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
const state = { view: "step0", meta: null, step0: {}, train: {}, runs: [], id: 0, pending: {},
                phase: {}, lastStep0: null, trainRuns: null, paused: false, training: false };
let ws = null;
let queued = null;
const $ = (sel) => document.querySelector(sel);

// --- number formatting: 6 significant digits, as the table's data-value keeps the full value ---
function fmt(v, pct) {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (pct) return (100 * v).toFixed(1);
  if (Number.isInteger(v)) return String(v);
  return Number(v.toPrecision(6)).toString();
}

// --- controls ------------------------------------------------------------------------------
function row(form, key, label, input, help) {
  const div = document.createElement("div");
  div.className = "row";
  div.dataset.key = key;
  const lab = document.createElement("label");
  lab.textContent = label;
  input.id = "c-" + key.replace(/[^a-z0-9]/gi, "-");
  input.name = key;
  lab.htmlFor = input.id;
  div.append(lab, input);
  if (help) { const h = document.createElement("div"); h.className = "help"; h.textContent = help; div.append(h); }
  const err = document.createElement("div");
  err.className = "err";
  err.dataset.for = key;
  div.append(err);
  form.append(div);
  return div;
}

function textInput(value, type) {
  const i = document.createElement("input");
  i.type = type || "text";
  i.value = value === undefined || value === null ? "" : String(value);
  return i;
}

function select(options, value) {
  const s = document.createElement("select");
  for (const o of options) {
    const opt = document.createElement("option");
    opt.value = o; opt.textContent = o;
    s.append(opt);
  }
  s.value = value;
  return s;
}

function fieldset(form, title) {
  const fs = document.createElement("fieldset");
  const lg = document.createElement("legend");
  lg.textContent = title;
  fs.append(lg);
  form.append(fs);
  return fs;
}

// a registry spec (name + parameters) <-> "name:key=value,..." (the CLI's spec syntax)
function parseSpec(text) {
  const [name, rest] = String(text).split(/:(.*)/s);
  const params = {};
  if (rest) for (const kv of rest.split(",")) { const [k, v] = kv.split("="); if (k) params[k.trim()] = (v || "").trim(); }
  return { name: name.trim(), params };
}
function specText(name, params) {
  const kv = Object.entries(params).filter(([, v]) => v !== "").map(([k, v]) => `${k}=${v}`);
  return kv.length ? `${name}:${kv.join(",")}` : name;
}

function specControl(form, store, key, label, registry, onChange) {
  const spec = parseSpec(store[key]);
  const sel = select(registry.map((e) => e.name), spec.name);
  const div = row(form, key, label, sel);
  const box = document.createElement("div");
  box.className = "params";
  div.insertBefore(box, div.querySelector(".err"));
  const draw = (params) => {
    box.replaceChildren();
    const entry = registry.find((e) => e.name === sel.value);
    if (entry && entry.formula) { const h = document.createElement("div"); h.className = "help"; h.textContent = entry.formula; box.append(h); }
    for (const [p, def] of Object.entries((entry && entry.params) || {})) {
      const inp = textInput(params[p] !== undefined ? params[p] : "");
      inp.placeholder = def === null ? "required" : String(def);
      inp.dataset.param = p;
      const r = document.createElement("div");
      r.className = "row";
      const lab = document.createElement("label");
      lab.textContent = p;
      inp.id = `c-${key.replace(/\./g, "-")}-${p}`;
      inp.name = `${key}.${p}`;
      lab.htmlFor = inp.id;
      r.append(lab, inp);
      box.append(r);
      inp.addEventListener("input", update);
    }
  };
  const update = () => {
    const params = {};
    for (const inp of box.querySelectorAll("input[data-param]")) params[inp.dataset.param] = inp.value.trim();
    store[key] = specText(sel.value, params);
    onChange();
  };
  sel.addEventListener("change", () => { draw({}); update(); });
  draw(spec.params);
  return div;
}

function plain(form, store, key, label, onChange, opts) {
  opts = opts || {};
  let input;
  if (opts.choices) input = select(opts.choices, store[key]);
  else if (opts.checkbox) { input = textInput("", "checkbox"); input.checked = store[key] === "true"; }
  else input = textInput(store[key]);
  const div = row(form, key, label, input, opts.help);
  let range = null;
  if (opts.range) {
    range = document.createElement("input");
    range.type = "range";
    [range.min, range.max, range.step] = opts.range;
    range.value = store[key];
    range.setAttribute("aria-label", label + " slider");
    div.insertBefore(range, div.querySelector(".err"));
    range.addEventListener("input", () => { input.value = range.value; store[key] = range.value; onChange(); });
  }
  input.addEventListener(opts.choices || opts.checkbox ? "change" : "input", () => {
    store[key] = opts.checkbox ? String(input.checked) : input.value.trim();
    if (range) range.value = input.value;
    onChange();
  });
  return div;
}

function buildStep0() {
  const m = state.meta, s = state.step0, form = $("#step0-form");
  form.replaceChildren();
  const send = () => schedule("step0");
  let fs = fieldset(form, "network");
  plain(fs, s, "network.depth", "depth", send, { range: [1, 50, 1] });
  plain(fs, s, "network.width", "width", send, { range: [2, 2000, 1], help: "one width, or a list [500, 400, ...]" });
  specControl(fs, s, "network.activation", "activation", m.activations, send);
  specControl(fs, s, "network.initializer", "initializer", m.initializers, send);
  plain(fs, s, "network.bias", "bias", send, { help: "a number, or an initializer spec (normal:std=0.1)" });
  fs = fieldset(form, "input");
  plain(fs, s, "input.batch", "batch", send);
  plain(fs, s, "input.dim", "dim", send);
  plain(fs, s, "input.distribution", "distribution", send, { choices: m.distributions });
  plain(fs, s, "input.mean", "mean", send);
  plain(fs, s, "input.std", "std", send);
  fs = fieldset(form, "run");
  plain(fs, s, "dtype", "dtype", send, { choices: m.dtypes });
  plain(fs, s, "seed", "seed", send);
  plain(fs, s, "backward.enabled", "backward pass", send, { checkbox: true });
  plain(fs, s, "backward.loss", "loss", send, { choices: m.losses });
  plain(fs, s, "stats.bins", "bins", send);
}

function buildTrain() {
  const m = state.meta, s = state.train, form = $("#train-form");
  form.replaceChildren();
  const changed = () => { updateUrl(); };
  let fs = fieldset(form, "data");
  const names = m.datasets.map((d) => d.name);
  const dsRow = plain(fs, s, "data.name", "data set", () => {
    const ds = m.datasets.find((d) => d.name === s["data.name"]);
    for (const k of Object.keys(s)) {
      const p = k.slice(5);
      if (k.startsWith("data.") && !["name", "n_train", "n_test", "standardize"].includes(p) && !(p in ds.params)) delete s[k];
    }
    if (ds.classes !== 2 && s["train.loss"] === "bce") delete s["train.loss"];
    buildTrain(); changed();
  }, { choices: names });
  const ds = m.datasets.find((d) => d.name === s["data.name"]) || m.datasets[0];
  dsRow.querySelector(".err").before(Object.assign(document.createElement("div"), { className: "help", textContent: ds.summary || "" }));
  plain(fs, s, "data.n_train", "n_train", changed);
  plain(fs, s, "data.n_test", "n_test", changed);
  for (const [p, def] of Object.entries(ds.params)) {
    if (typeof def === "number" || typeof def === "boolean") {
      if (s["data." + p] === undefined) s["data." + p] = "";
      const r = plain(fs, s, "data." + p, p, changed);
      r.querySelector("input").placeholder = String(def);
    }
  }
  plain(fs, s, "data.standardize", "standardize", changed, { checkbox: true });
  fs = fieldset(form, "network");
  plain(fs, s, "network.depth", "depth", changed);
  plain(fs, s, "network.width", "width", changed, { help: "one width, or a list [10, 5]" });
  plain(fs, s, "network.activation", "activation", changed, { choices: m.activations.map((a) => a.name) });
  fs = fieldset(form, "initializers side by side");
  const list = document.createElement("datalist");
  list.id = "init-names";
  for (const e of m.initializers) list.append(Object.assign(document.createElement("option"), { value: e.name }));
  fs.append(list);
  for (let i = 0; i < 3; i++) {
    const inp = textInput(state.runs[i] || "");
    inp.setAttribute("list", "init-names");
    inp.placeholder = i === 0 ? "he" : "(none)";
    row(fs, `runs.${i}`, "ABC"[i], inp, i === 0 ? "name or name:key=value, e.g. normal:std=0.01" : "");
    inp.addEventListener("input", () => { state.runs[i] = inp.value.trim(); changed(); });
  }
  fs = fieldset(form, "training");
  plain(fs, s, "train.optimizer.name", "optimizer", changed, { choices: m.optimizers.map((o) => o.name) });
  plain(fs, s, "train.optimizer.lr", "lr", changed);
  plain(fs, s, "train.loss", "loss", changed, { choices: ["", ...m.train_losses], help: "empty: the data set's default" });
  plain(fs, s, "train.steps", "steps", changed);
  plain(fs, s, "train.batch", "batch", changed, { help: "full, or rows per minibatch" });
  plain(fs, s, "seed", "seed", changed);
  const buttons = document.createElement("div");
  buttons.className = "buttons";
  for (const [id, text, fn] of [["start", "Start", startTraining], ["pause", "Pause", togglePause], ["reset", "Reset", resetTraining]]) {
    const b = Object.assign(document.createElement("button"), { type: "button", id, textContent: text });
    b.addEventListener("click", fn);
    buttons.append(b);
  }
  form.append(buttons);
}

// --- errors beside their control ----------------------------------------------------------------
function clearErrors(form) {
  for (const e of form.querySelectorAll(".err")) e.textContent = "";
  for (const r of form.querySelectorAll(".row.invalid")) r.classList.remove("invalid");
}
function showError(form, field, message) {
  let best = null;
  for (const r of form.querySelectorAll(".row[data-key]")) {
    const k = r.dataset.key;
    if ((field === k || field.startsWith(k + ".")) && (!best || k.length > best.dataset.key.length)) best = r;
  }
  if (best) {
    best.classList.add("invalid");
    best.querySelector(":scope > .err").textContent = message;
  }
  setStatus(message, true);
}
function setStatus(text, error) {
  const s = $("#status");
  s.textContent = text;
  s.classList.toggle("error", !!error);
}

// --- the socket ---------------------------------------------------------------------------------
function connect() {
  return new Promise((resolve) => {
    ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    ws.onopen = () => resolve();
    ws.onmessage = (ev) => receive(JSON.parse(ev.data));
    ws.onclose = () => setStatus("disconnected from the server: reload the page", true);
  });
}

function settingsOf(store) {
  const out = {};
  for (const [k, v] of Object.entries(store)) if (v !== "" && v !== undefined && v !== null) out[k] = v;
  return out;
}

function schedule(kind) {
  updateUrl();
  if (queued) return;
  queued = requestAnimationFrame(() => { queued = null; send(kind); });
}

function send(kind, extra) {
  const id = ++state.id;
  const store = kind === "step0" ? state.step0 : state.train;
  state.pending[kind] = { id, t0: performance.now() };
  ws.send(JSON.stringify({ type: kind, id, settings: settingsOf(store), ...(extra || {}) }));
  if (kind === "step0") setStatus("computing...");
  return id;
}

function receive(msg) {
  if (msg.id !== undefined && msg.id !== null && msg.id !== state.id && msg.type !== "phase") return;  // superseded
  switch (msg.type) {
    case "step0": renderStep0(msg); break;
    case "phase": state.phase[msg.activation] = msg; if (state.lastStep0) drawPhase(state.lastStep0); break;
    case "train_start": startRuns(msg); break;
    case "frame": queueFrame(msg); break;
    case "train_done": flushFrames(); state.training = false; setStatus("training done"); document.body.dataset.trainDone = "1"; break;
    case "cancelled": if (state.view === "train" && state.training) { state.training = false; setStatus("training stopped"); } break;
    case "error": {
      const form = state.view === "step0" ? $("#step0-form") : $("#train-form");
      state.training = false;
      showError(form, msg.field || "", msg.message);
      break;
    }
  }
}

// --- step 0 -------------------------------------------------------------------------------------
function layersShown(depth) {
  if (depth <= MAX_HISTS) return [...Array(depth).keys()].map((i) => i + 1);
  const out = new Set();
  for (let i = 0; i < MAX_HISTS; i++) out.add(1 + Math.round(i * (depth - 1) / (MAX_HISTS - 1)));
  return [...out];
}

function renderStep0(msg) {
  const tRecv = performance.now();
  state.lastStep0 = msg;
  const form = $("#step0-form");
  clearErrors(form);
  const rows = msg.rows, depth = rows.length - 1;
  const shown = layersShown(depth);
  const cols = Math.min(shown.length, 6), nrows = Math.ceil(shown.length / cols);
  const traces = [], layout = { grid: { rows: nrows, columns: cols, pattern: "independent" }, showlegend: false,
    margin: { l: 30, r: 10, t: 40, b: 25 }, annotations: [], title: { text: `activations per layer: ${msg.activation}, ${msg.initializer}`, font: { size: 13 } } };
  shown.forEach((l, i) => {
    const h = msg.act_hist[l - 1];
    if (!h) return;
    const w = (h.hi - h.lo) / h.fraction.length;
    const ax = i === 0 ? "" : String(i + 1);
    traces.push({ type: "bar", x: h.fraction.map((_, j) => h.lo + (j + 0.5) * w), y: h.fraction, marker: { color: COLORS[0] },
                  xaxis: "x" + ax, yaxis: "y" + ax, hovertemplate: "%{x:.3g}: %{y:.3%}<extra>layer " + l + "</extra>" });
    layout["xaxis" + ax] = { range: [h.lo, h.hi], tickfont: { size: 9 } };
    layout["yaxis" + ax] = { tickfont: { size: 9 }, tickformat: ".0%" };
    const r = rows[l];
    layout.annotations.push({ text: `layer ${l}: std ${fmt(r.act_std)}`, xref: `x${ax} domain`, yref: `y${ax} domain`,
                              x: 0.5, y: 1.12, showarrow: false, font: { size: 10 } });
  });
  const done = [Plotly.react("hist", traces, layout, PLOT_CFG)];
  const L = rows.map((r) => r.layer);
  const num = (k) => rows.map((r) => (typeof r[k] === "number" ? r[k] : null));
  const std = [
    { name: "act std (measured)", x: L, y: num("act_std"), mode: "lines+markers", line: { color: COLORS[0] } },
    { name: "act std (mean field)", x: L, y: num("predicted_act_std"), mode: "lines", line: { color: "black", dash: "dash", width: 1.5 } },
  ];
  if (rows[depth].grad_act_std !== null) {
    std.push({ name: "grad std dL/dh", x: L, y: num("grad_act_std"), mode: "lines+markers", line: { color: COLORS[1] } });
    std.push({ name: "grad std (mean field)", x: L, y: num("predicted_grad_act_std"), mode: "lines", line: { color: "#7f1d1d", dash: "dash", width: 1.5 } });
  }
  done.push(Plotly.react("stdplot", std, { title: { text: "std by layer", font: { size: 13 } }, yaxis: { type: "log", exponentformat: "e" },
    xaxis: { title: { text: "layer" }, dtick: depth > 20 ? undefined : 1 }, margin: { l: 55, r: 10, t: 35, b: 40 }, legend: { font: { size: 10 } } }, PLOT_CFG));
  const frac = [{ name: "zero", x: L.slice(1), y: num("act_zero").slice(1), mode: "lines+markers" },
                { name: "dead units", x: L.slice(1), y: rows.slice(1).map((r) => (r.dead_units || 0) / r.width), mode: "lines+markers" }];
  if (msg.saturation) {
    frac.unshift({ name: "saturated", x: L.slice(1), y: num("act_saturated").slice(1), mode: "lines+markers" });
    frac.push({ name: "saturated (mean field)", x: L.slice(1), y: num("predicted_act_saturated").slice(1), mode: "lines", line: { dash: "dash" } });
  }
  done.push(Plotly.react("fracplot", frac, { title: { text: "saturated / zero / dead fraction", font: { size: 13 } },
    yaxis: { range: [0, 1.02], tickformat: ".0%" }, xaxis: { title: { text: "layer" } }, margin: { l: 50, r: 10, t: 35, b: 40 }, legend: { font: { size: 10 } } }, PLOT_CFG));
  drawPhase(msg);
  drawTable(msg);
  const notes = [];
  notes.push(msg.theory.applies ? `theory: ${msg.theory.note}` : `theory: ${msg.theory.note}`);
  if (msg.first_nonfinite.forward !== null) notes.push(`<span class="warn">activations overflow to inf/NaN from layer ${msg.first_nonfinite.forward} on (a result, not an error)</span>`);
  if (msg.first_nonfinite.backward !== null) notes.push(`<span class="warn">gradients overflow to inf/NaN from layer ${msg.first_nonfinite.backward} down</span>`);
  if (depth > MAX_HISTS) notes.push(`histograms of ${shown.length} of ${depth} layers shown (evenly spaced); the table has all`);
  $("#notes").innerHTML = notes.map((n) => `<div>${n}</div>`).join("");
  const p = state.pending.step0;
  Promise.all(done).then(() => {
    const page = performance.now() - p.t0;
    window.__initlabLatency = { server_ms: 1e3 * msg.seconds, page_ms: page, draw_ms: performance.now() - tRecv, id: msg.id };
    setStatus(`computed in ${(1e3 * msg.seconds).toFixed(0)} ms on the server, ${page.toFixed(0)} ms to the page`);
    document.body.dataset.step0 = String(msg.id);
  });
}

function drawTable(msg) {
  const cols = [["layer", "layer"], ["width", "width"], ["act_mean", "mean"], ["act_std", "std"], ["predicted_act_std", "theory std"],
                ["act_saturated", "sat %", true], ["act_zero", "zero %", true], ["dead_units", "dead"]];
  if (msg.rows[msg.rows.length - 1].grad_act_std !== null) cols.push(["grad_act_std", "std dL/dh"], ["predicted_grad_act_std", "theory dL/dh"]);
  const t = $("#layers");
  t.replaceChildren();
  const head = t.insertRow();
  for (const [, h] of cols) head.append(Object.assign(document.createElement("th"), { textContent: h }));
  for (const r of msg.rows) {
    const tr = t.insertRow();
    for (const [k, , pct] of cols) {
      const td = tr.insertCell();
      td.textContent = fmt(r[k], pct);
      td.dataset.key = k;
      if (r[k] !== null) td.dataset.value = String(r[k]);
    }
  }
}

function drawPhase(msg) {
  const ph = state.phase[msg.activation];
  if (!ph) return;
  const pt = msg.point;
  const traces = [
    { type: "heatmap", x: ph.sw2, y: ph.sb2, z: ph.log10_chi1.map((r) => r.map((v) => (typeof v === "number" ? v : null))), zmid: 0,
      colorscale: "RdBu", reversescale: true, colorbar: { title: { text: "log10 chi_1", side: "right" }, thickness: 12 },
      hovertemplate: "sw2 %{x:.3g}, sb2 %{y:.3g}: log10 chi1 %{z:.2f}<extra></extra>" },
    { type: "contour", x: ph.sw2, y: ph.sb2, z: ph.log10_chi1.map((r) => r.map((v) => (typeof v === "number" ? v : null))), showscale: false,
      contours: { start: 0, end: 0, size: 1, coloring: "lines" }, colorscale: [[0, "black"], [1, "black"]], line: { width: 2 }, hoverinfo: "skip", name: "chi_1 = 1" },
  ];
  let note = "";
  if (pt.sw2 !== null && pt.sb2 !== null) {
    const inside = pt.sw2 >= ph.sw2[0] && pt.sw2 <= ph.sw2[ph.sw2.length - 1] && pt.sb2 <= ph.sb2[ph.sb2.length - 1];
    const x = Math.min(Math.max(pt.sw2, ph.sw2[0]), ph.sw2[ph.sw2.length - 1]);
    const y = Math.min(pt.sb2, ph.sb2[ph.sb2.length - 1]);
    traces.push({ type: "scatter", x: [x], y: [y], mode: "markers", marker: { size: 14, color: "gold", line: { color: "black", width: 2 }, symbol: inside ? "circle" : "triangle-right" },
                  name: "this network", hovertemplate: `sigma_w^2 ${fmt(pt.sw2)}, sigma_b^2 ${fmt(pt.sb2)}<extra></extra>` });
    note = `(sigma_w^2, sigma_b^2) = (${fmt(pt.sw2)}, ${fmt(pt.sb2)})` + (inside ? "" : " outside the plotted range: marked at the edge");
  } else note = "no (sigma_w^2, sigma_b^2) point: " + msg.theory.note;
  Plotly.react("phaseplot", traces, { title: { text: `order-to-chaos phase diagram, ${ph.activation}<br><sub>${note}</sub>`, font: { size: 13 } },
    xaxis: { type: "log", title: { text: "sigma_w^2 = fan_in Var(W)" }, tickvals: [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20] }, yaxis: { title: { text: "sigma_b^2" } }, showlegend: false,
    margin: { l: 55, r: 10, t: 50, b: 45 } }, PLOT_CFG);
}

// --- training -----------------------------------------------------------------------------------
function startTraining() {
  const form = $("#train-form");
  clearErrors(form);
  const runs = state.runs.filter((r) => r);
  if (!runs.length) { showError(form, "runs.0", "runs.0: give at least one initializer"); return; }
  state.training = true;
  state.paused = false;
  $("#pause").textContent = "Pause";
  delete document.body.dataset.trainDone;
  send("train", { runs });
  setStatus("training...");
}
function togglePause() {
  if (!state.training) return;
  state.paused = !state.paused;
  ws.send(JSON.stringify({ type: state.paused ? "pause" : "resume" }));
  $("#pause").textContent = state.paused ? "Resume" : "Pause";
  setStatus(state.paused ? "paused" : "training...");
}
function resetTraining() {
  ws.send(JSON.stringify({ type: "stop" }));
  pendingFrames.clear();
  state.training = false;
  state.trainRuns = null;
  for (const id of ["lossplot", "accplot", "boundaries", "trainstd", "trainupd", "trainhist"]) Plotly.purge(id);
  $("#finals").replaceChildren();
  $("#train-notes").textContent = "";
  setStatus("reset");
}

function startRuns(msg) {
  pendingFrames.clear();
  state.trainRuns = msg;
  const R = msg.runs.length;
  const curves = (metric) => msg.runs.flatMap((r, i) => [
    { name: `${r.label} train`, x: [], y: [], mode: "lines", line: { color: COLORS[i] }, legendgroup: r.label },
    { name: `${r.label} test`, x: [], y: [], mode: "lines", line: { color: COLORS[i], dash: "dot" }, legendgroup: r.label }]);
  Plotly.react("lossplot", curves("loss"), { title: { text: "loss", font: { size: 13 } }, yaxis: { type: "log" }, xaxis: { title: { text: "step" }, range: [0, msg.steps] },
    margin: { l: 50, r: 10, t: 35, b: 40 }, legend: { font: { size: 10 } } }, PLOT_CFG);
  Plotly.react("accplot", curves("acc"), { title: { text: "accuracy", font: { size: 13 } }, yaxis: { range: [0, 1.02], tickformat: ".0%" },
    xaxis: { title: { text: "step" }, range: [0, msg.steps] }, margin: { l: 50, r: 10, t: 35, b: 40 }, legend: { font: { size: 10 } } }, PLOT_CFG);
  const bd = $("#boundaries");
  if (msg.plot_2d) {
    bd.hidden = false;
    const traces = [], layout = { grid: { rows: 1, columns: R, pattern: "independent" }, showlegend: false, annotations: [],
      margin: { l: 30, r: 10, t: 60, b: 25 }, title: { text: "decision boundary (train points)", font: { size: 13 }, y: 0.98 } };
    const p = msg.points, K = msg.dataset.n_classes, multi = K > 2;
    msg.runs.forEach((r, i) => {
      const ax = i === 0 ? "" : String(i + 1);
      traces.push({ type: "heatmap", x: [0], y: [0], z: [[0.5]], zmin: 0, zmax: multi ? K - 1 : 1, colorscale: multi ? "Viridis" : "RdBu", reversescale: !multi, opacity: 0.75, showscale: false, xaxis: "x" + ax, yaxis: "y" + ax, hoverinfo: "skip" });
      traces.push({ type: "scatter", x: p.x_train.map((q) => q[0]), y: p.x_train.map((q) => q[1]), mode: "markers",
        marker: { size: 4, color: p.y_train, cmin: 0, cmax: multi ? K - 1 : 1, colorscale: multi ? "Viridis" : [[0, "#b2182b"], [1, "#2166ac"]], line: { width: 0.5, color: "white" } }, xaxis: "x" + ax, yaxis: "y" + ax, hoverinfo: "skip" });
      layout.annotations.push({ text: r.label, xref: `x${ax} domain`, yref: `y${ax} domain`, x: 0.5, y: 1.02, yanchor: "bottom", showarrow: false, font: { color: COLORS[i] } });
    });
    Plotly.react("boundaries", traces, layout, PLOT_CFG);
  } else { Plotly.purge("boundaries"); bd.hidden = true; }
  $("#train-notes").innerHTML = `${msg.dataset.name}: ${msg.dataset.n_train} train / ${msg.dataset.n_test} test, ${msg.steps} steps; ` +
    `same data, batches and seed for every initializer. Reproduce: <code>initlab compare ${msg.runs.map((r) => r.spec).join(" ")} --config ${msg.runs[0].name}.yaml --train</code>`;
  drawFinals();
  for (const id of ["trainstd", "trainupd", "trainhist"]) Plotly.purge(id);
}

// Frames are merged per run and drawn at most once per animation frame: a page slower than the
// server (a busy machine, a projector's laptop) draws the latest state instead of falling behind.
const pendingFrames = new Map();
let frameScheduled = false;
function queueFrame(msg) {
  let p = pendingFrames.get(msg.run);
  if (!p) { p = { run: msg.run, history: [] }; pendingFrames.set(msg.run, p); }
  p.history.push(...msg.history);
  for (const k of ["layers", "hist", "boundary", "final"]) if (msg[k]) p[k] = msg[k];
  if (!frameScheduled) { frameScheduled = true; requestAnimationFrame(flushFrames); }
}
function flushFrames() {
  frameScheduled = false;
  const frames = [...pendingFrames.values()];
  pendingFrames.clear();
  for (const f of frames) renderFrame(f);
}

function renderFrame(msg) {
  const runs = state.trainRuns;
  if (!runs) return;
  const i = msg.run;
  if (msg.history.length) {
    const h = msg.history, step = h.map((r) => r.step);
    const v = (k) => h.map((r) => (typeof r[k] === "number" ? r[k] : null));
    Plotly.extendTraces("lossplot", { x: [step, step], y: [v("train_loss"), v("test_loss")] }, [2 * i, 2 * i + 1]);
    if (h[0].train_acc !== null) Plotly.extendTraces("accplot", { x: [step, step], y: [v("train_acc"), v("test_acc")] }, [2 * i, 2 * i + 1]);
  }
  if (msg.boundary) Plotly.restyle("boundaries", { x: [msg.boundary.x], y: [msg.boundary.y], z: [msg.boundary.pred || msg.boundary.prob] }, [2 * i]);
  if (msg.layers) {
    runs.layers = runs.layers || {};
    runs.updates = runs.updates || {};
    runs.layers[i] = msg.layers;
    // the last statistics step has no update after it: keep the latest step that had one
    if (msg.layers.some((l) => typeof l.update_ratio === "number")) runs.updates[i] = msg.layers;
    const mk = (store, key) => runs.runs.map((r, j) => ({ name: r.label, x: (store[j] || []).map((l) => l.layer), mode: "lines+markers", line: { color: COLORS[j] },
      y: (store[j] || []).map((l) => (typeof l[key] === "number" ? l[key] : null)) }));
    // a log axis unless some std is 0 (zero weights: every activation is the same constant)
    const positive = (store, key) => Object.values(store).every((ls) => ls.every((l) => typeof l[key] !== "number" || l[key] > 0));
    Plotly.react("trainstd", mk(runs.layers, "act_std"), { title: { text: "activation std by layer (latest statistics step)", font: { size: 13 } },
      yaxis: { type: positive(runs.layers, "act_std") ? "log" : "linear" },
      xaxis: { title: { text: "layer" }, dtick: 1 }, margin: { l: 50, r: 10, t: 35, b: 40 } }, PLOT_CFG);
    Plotly.react("trainupd", mk(runs.updates, "update_ratio"), { title: { text: "update ratio std(dW)/std(W) by layer", font: { size: 13 } },
      yaxis: { type: positive(runs.updates, "update_ratio") ? "log" : "linear" },
      xaxis: { title: { text: "layer" }, dtick: 1 }, margin: { l: 50, r: 10, t: 35, b: 40 } }, PLOT_CFG);
  }
  if (msg.hist) { runs.hists = runs.hists || {}; runs.hists[i] = msg.hist; drawTrainHists(runs); }
  if (msg.final) { runs.runs[i].final = msg.final; drawFinals(); }
}

// per run, the activation histogram of every layer at the latest statistics step (rows: layers,
// columns: the activation's range): how the distributions move as the network trains
function drawTrainHists(runs) {
  const traces = [], R = runs.runs.length;
  const layout = { grid: { rows: 1, columns: R, pattern: "independent" }, showlegend: false, annotations: [],
    margin: { l: 40, r: 10, t: 60, b: 30 }, title: { text: "activation histograms by layer (latest statistics step)", font: { size: 13 }, y: 0.98 } };
  runs.runs.forEach((r, i) => {
    const h = runs.hists[i], ax = i === 0 ? "" : String(i + 1);
    if (h) {
      const bins = h.fraction[0].length, w = (h.hi - h.lo) / bins;
      traces.push({ type: "heatmap", x: [...Array(bins).keys()].map((j) => h.lo + (j + 0.5) * w), y: h.fraction.map((_, l) => l + 1),
        z: h.fraction.map((row) => row.map((v) => Math.log10(v + 1e-4))), colorscale: "Viridis", showscale: false,
        xaxis: "x" + ax, yaxis: "y" + ax, hovertemplate: "layer %{y}, %{x:.3g}<extra></extra>" });
    }
    layout["yaxis" + ax] = { title: i === 0 ? { text: "layer" } : undefined, dtick: 1 };
    layout.annotations.push({ text: r.label, xref: `x${ax} domain`, yref: `y${ax} domain`, x: 0.5, y: 1.02, yanchor: "bottom", showarrow: false, font: { color: COLORS[i] } });
  });
  Plotly.react("trainhist", traces, layout, PLOT_CFG);
}

function drawFinals() {
  const runs = state.trainRuns, t = $("#finals");
  t.replaceChildren();
  const cols = [["step", "step"], ["train_loss", "train loss"], ["train_acc", "train acc %", true], ["test_loss", "test loss"],
                ["test_acc", "test acc %", true], ["steps_to_threshold", "threshold at"], ["diverged_at", "diverged at"]];
  const head = t.insertRow();
  for (const h of ["initializer", ...cols.map((c) => c[1]), "config"]) head.append(Object.assign(document.createElement("th"), { textContent: h }));
  runs.runs.forEach((r, i) => {
    const tr = t.insertRow();
    tr.dataset.run = String(i);
    const c = tr.insertCell();
    c.className = "label";
    c.textContent = r.label;
    c.style.color = COLORS[i];
    for (const [k, , pct] of cols) {
      const td = tr.insertCell();
      const v = r.final ? r.final[k] : null;
      td.textContent = r.final ? fmt(v, pct) : "...";
      td.dataset.key = k;
      if (v !== null && v !== undefined) td.dataset.value = String(v);
    }
    const a = Object.assign(document.createElement("a"), { href: "#", textContent: `${r.name}.yaml` });
    a.className = "download-run";
    a.addEventListener("click", (e) => { e.preventDefault(); download(`${r.name}.yaml`, r.yaml); });
    tr.insertCell().append(a);
  });
}

// --- permalink and download ---------------------------------------------------------------------
function updateUrl() {
  const q = new URLSearchParams();
  q.set("view", state.view);
  for (const [k, v] of Object.entries(state.step0)) if (String(state.meta.step0_defaults[k]) !== v && v !== "") q.set("s." + k, v);
  for (const [k, v] of Object.entries(state.train)) if (v !== "" && v !== undefined) q.set("t." + k, v);
  q.set("runs", state.runs.filter((r) => r).join("|"));
  const url = `${location.pathname}?${q.toString()}`;
  history.replaceState(null, "", url);
  $("#permalink").href = url;
}

function download(name, text) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "application/x-yaml" }));
  a.download = name;
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function downloadConfig() {
  if (state.view === "step0") {
    if (state.lastStep0) download("playground.yaml", state.lastStep0.yaml);
    else setStatus("nothing computed yet", true);
  } else if (state.trainRuns) download(`${state.trainRuns.runs[0].name}.yaml`, state.trainRuns.runs[0].yaml);
  else setStatus("start a training run first: its configs are downloaded from the table", true);
}

function showView(view) {
  state.view = view;
  for (const b of document.querySelectorAll("nav .tab")) b.classList.toggle("active", b.dataset.view === view);
  $("#view-step0").hidden = view !== "step0";
  $("#view-train").hidden = view !== "train";
  updateUrl();
  window.dispatchEvent(new Event("resize"));
}

async function main() {
  state.meta = await (await fetch("/api/meta")).json();
  const m = state.meta;
  for (const [k, v] of Object.entries(m.step0_defaults)) state.step0[k] = v === null ? "" : String(v);
  Object.assign(state.train, m.train_defaults);
  state.runs = [...m.train_runs];
  const q = new URLSearchParams(location.search);
  let trainGiven = false;
  for (const [k, v] of q) {
    if (k.startsWith("s.")) state.step0[k.slice(2)] = v;
    if (k.startsWith("t.")) { if (!trainGiven) { state.train = {}; trainGiven = true; } state.train[k.slice(2)] = v; }
  }
  if (q.has("runs")) state.runs = q.get("runs").split("|").filter((r) => r);
  if (!m.train) $("#tab-train").hidden = true;
  buildStep0();
  if (m.train) buildTrain();
  for (const b of document.querySelectorAll("nav .tab")) b.addEventListener("click", () => showView(b.dataset.view));
  $("#download").addEventListener("click", downloadConfig);
  $("#permalink").addEventListener("click", (e) => { e.preventDefault(); navigator.clipboard && navigator.clipboard.writeText(location.href).catch(() => {}); setStatus("permalink in the address bar" ); });
  await connect();
  showView(q.get("view") === "train" && m.train ? "train" : "step0");
  send("step0");
}

main();
