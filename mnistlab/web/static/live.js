// The training view: runs under the server's run root, one of them open and streaming.
// Everything comes from the run's event log and snapshots (server-sent events, see
// docs/live.md); the page keeps no state of its own, so a reload reattaches.
"use strict";
const $ = (id) => document.getElementById(id);
const body = document.body;
const LIVE = new Set(["starting", "running", "paused"]);
let info = { runs: [], steering: false, form: null };
let run = null;       // the open run: {name, source, steps, epochs, start, status, snapshot}
let other = null;     // the run whose curves are drawn beside it
body.dataset.lossPoints = "0";

// ---------- small helpers ----------
function fmtTime(s) {
  if (s == null || !isFinite(s)) return "–";
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
function bytes(b64) { return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)); }
async function api(path, options = {}) {
  const response = await fetch(path, {
    headers: { "Content-Type": "application/json" }, ...options,
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
  return answer;
}

// ---------- following a run's log ----------
function emptyRun(name) { return { name, steps: [], epochs: [], start: null, status: null }; }

function follow(target, events) {
  for (const e of events) {
    if (e.event === "start") {
      target.start = e;  // a resumed run goes on from its checkpoint: drop the dropped epoch
      target.steps = target.steps.filter((p) => p.step <= e.step);
      target.epochs = target.epochs.filter((r) => r.epoch < e.epoch);
    } else if (e.event === "step") {
      target.steps.push(e);
      target.last = e;
    } else if (e.event === "epoch") {
      target.epochs.push(e.record);
      target.best = e.best;
    }
    target.position = e;
  }
}

function open(name) {
  if (run && run.source) run.source.close();
  if (!name) { run = null; render(); return; }
  run = emptyRun(name);
  location.hash = "run=" + encodeURIComponent(name);
  const source = new EventSource(`/api/runs/${encodeURIComponent(name)}/events`);
  run.source = source;
  const mine = run;
  source.addEventListener("log", (m) => { follow(mine, JSON.parse(m.data)); schedule(); });
  source.addEventListener("snapshot", (m) => { mine.snapshot = JSON.parse(m.data); drawSnapshot(); rereadPad(); });
  source.addEventListener("status", (m) => { mine.status = JSON.parse(m.data); schedule(); refreshList(); });
  source.addEventListener("reset", () => { Object.assign(mine, emptyRun(name), { source }); });
  setCompare("");
  $("compare").value = "";
  render();
}

function setCompare(name) {
  if (other && other.source) other.source.close();
  other = null;
  if (name) {
    other = emptyRun(name);
    const mine = other;
    other.source = new EventSource(`/api/runs/${encodeURIComponent(name)}/events?snapshots=0`);
    other.source.addEventListener("log", (m) => { follow(mine, JSON.parse(m.data)); schedule(); });
    other.source.addEventListener("status", (m) => { mine.status = JSON.parse(m.data); });
  }
  schedule();
}

let pending = false;
function schedule() {  // redraw at most once a frame, however many messages came
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; render(); });
}

// ---------- the run's head: name, status, progress, controls ----------
function render() {
  const status = run && run.status ? run.status.status : null;
  $("run-name").textContent = run ? run.name : "No run open";
  const start = run && run.start;
  $("run-what").textContent = !run ? "Open a run from the list, or start one."
    : start ? `${start.description} on ${start.config.backend}, ${start.n_train.toLocaleString("en")} `
      + `${start.config.dataset} images, batch ${start.config.train.batch_size}, `
      + `${start.config.train.optimizer}` : "waiting for the run to start…";
  const badge = $("badge");
  badge.textContent = status || "";
  badge.className = "badge " + (status || "");
  body.dataset.status = status || "";
  $("reason").textContent = run && run.status && run.status.reason
    && !["finished"].includes(status) ? run.status.reason : "";
  progressLine();
  controls(status);
  drawCharts();
  markList();
}

function progressLine() {
  const line = $("progress-line");
  if (!run || !run.start) { line.textContent = ""; $("bar").style.width = "0"; return; }
  const p = run.position || run.start;
  const epochs = run.start.epochs;
  $("bar").style.width = `${Math.min(100, (100 * p.progress) / epochs).toFixed(1)}%`;
  const parts = [`epoch ${Math.min(Math.ceil(p.progress) || 1, epochs)} of ${epochs}`,
    `step ${p.step.toLocaleString("en")}`];
  const last = run.last;
  if (last && last.images_per_s) parts.push(`${Math.round(last.images_per_s).toLocaleString("en")} images/s`);
  if (last) parts.push(`lr ${(+last.lr).toPrecision(3)}`);
  const live = run.status && LIVE.has(run.status.status);
  if (live && last && last.eta_s != null) parts.push(`${fmtTime(last.eta_s)} left`);
  if (live && run.status.status === "running" && p.event === "step" && Number.isInteger(p.progress)) {
    parts.push(`scoring epoch ${p.progress} on the validation set…`);
  }
  if (run.best) {
    parts.push(`best validation ${(100 * run.best.val_acc).toFixed(2)}% (epoch ${run.best.epoch})`);
  }
  line.textContent = parts.join(" · ");
  body.dataset.step = String(p.step);
}

function controls(status) {
  const steering = info.steering;
  const live = status === "running" || status === "paused";
  $("pause").disabled = !(steering && live);
  $("pause").textContent = status === "paused" ? "Resume" : "Pause";
  $("stop").disabled = !(steering && live);
  $("lr").disabled = $("set-lr").disabled = !(steering && live);
  if (document.activeElement !== $("lr") && run && run.last) $("lr").placeholder = (+run.last.lr).toPrecision(3);
  const resumable = steering && ["stopped", "interrupted", "died", "finished"].includes(status);
  $("go-on").hidden = !resumable;
}

async function control(action, extra = {}) {
  try {
    await api(`/api/runs/${encodeURIComponent(run.name)}/control`, {
      method: "POST", body: JSON.stringify({ action, ...extra }),
    });
    $("reason").textContent = "";
  } catch (err) { $("reason").textContent = err.message; }
}
$("pause").addEventListener("click", () => control(run.status.status === "paused" ? "resume" : "pause"));
$("stop").addEventListener("click", () => control("stop"));
$("set-lr").addEventListener("click", () => {
  const lr = Number($("lr").value);
  if (!(lr > 0)) { $("reason").textContent = "give a positive learning rate"; return; }
  control("lr", { lr });
  $("lr").value = "";
});
$("go-on").addEventListener("click", async () => {
  const done = run.epochs.length, planned = run.start ? run.start.epochs : done;
  const epochs = done >= planned ? planned + 5 : null;  // a finished plan goes 5 further
  try {
    await api(`/api/runs/${encodeURIComponent(run.name)}/resume`, {
      method: "POST", body: JSON.stringify(epochs ? { epochs } : {}),
    });
  } catch (err) { $("reason").textContent = err.message; }
});
$("compare").addEventListener("change", (e) => setCompare(e.target.value));

// ---------- charts ----------
function chart(canvas, series, { xLabel, yLabel, y2 } = {}) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const c = canvas.getContext("2d");
  c.setTransform(dpr, 0, 0, dpr, 0, 0);
  c.clearRect(0, 0, w, h);
  const pad = { l: 44, r: y2 ? 44 : 10, t: 22, b: 30 };
  const all = series.filter((s) => !s.right).flatMap((s) => s.points);
  const right = series.filter((s) => s.right).flatMap((s) => s.points);
  c.font = "11px system-ui, sans-serif";
  c.fillStyle = "#6b7385";
  if (!all.length) { c.fillText("no points yet", pad.l, h / 2); return; }
  const xs = [...all, ...right].map((p) => p[0]);
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x1 === x0) x1 = x0 + 1;
  const range = (pts) => {
    const ys = pts.map((p) => p[1]);
    let a = Math.min(...ys), b = Math.max(...ys);
    if (b - a < 1e-9) { const d = Math.max(Math.abs(a), 1e-3) * 0.05; a -= d; b += d; }  // one point: ±5% of it
    return [a, b];
  };
  const [ya, yb] = range(all);
  const [ra, rb] = right.length ? range(right) : [0, 1];
  const X = (x) => pad.l + ((x - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (y, a = ya, b = yb) => h - pad.b - ((y - a) / (b - a)) * (h - pad.t - pad.b);
  c.strokeStyle = "#e3e6ee"; c.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = ya + ((yb - ya) * i) / 4;
    c.beginPath(); c.moveTo(pad.l, Y(y)); c.lineTo(w - pad.r, Y(y)); c.stroke();
    c.fillText(yLabel ? yLabel(y) : y.toPrecision(3), 2, Y(y) + 4);
    if (y2 && right.length) {
      const r = ra + ((rb - ra) * i) / 4;
      c.fillText(r.toPrecision(3), w - pad.r + 4, Y(y) + 4);
    }
  }
  c.fillText(xLabel(x0), pad.l, h - 10);
  const last = xLabel(x1);
  c.fillText(last, w - pad.r - c.measureText(last).width, h - 10);
  for (const s of series) {
    if (!s.points.length) continue;
    c.strokeStyle = s.color; c.fillStyle = s.color; c.lineWidth = 1.6;
    c.setLineDash(s.dashed ? [5, 4] : []);
    c.beginPath();
    s.points.forEach(([x, y], i) => {
      const py = s.right ? Y(y, ra, rb) : Y(y);
      if (i) c.lineTo(X(x), py); else c.moveTo(X(x), py);
    });
    c.stroke();
    if (s.dots) s.points.forEach(([x, y]) => { c.beginPath(); c.arc(X(x), s.right ? Y(y, ra, rb) : Y(y), 2.5, 0, 7); c.fill(); });
  }
  c.setLineDash([]);
  let lx = pad.l + 6;  // legend
  for (const s of series.filter((q) => q.label)) {
    c.fillStyle = s.color;
    c.fillText(s.label, lx, 11);
    lx += c.measureText(s.label).width + 14;
  }
}

function drawCharts() {
  const runs = [run, other].filter(Boolean);
  const colours = ["#4f5bd5", "#e08a1e"];
  const lossSeries = runs.map((r, i) => ({
    points: r.steps.filter((p) => p.loss != null).map((p) => [p.step, p.loss]),
    color: colours[i], dashed: i > 0, label: runs.length > 1 ? r.name : null,
  }));
  const loss = $("loss-chart");
  chart(loss, lossSeries, { xLabel: (x) => `step ${Math.round(x).toLocaleString("en")}` });
  body.dataset.lossPoints = String(run ? run.steps.length : 0);
  const val = [];
  runs.forEach((r, i) => {
    val.push({ points: r.epochs.map((e) => [e.epoch, e.val_acc]), color: colours[i], dots: true,
      dashed: i > 0, label: `${runs.length > 1 ? r.name + " " : ""}accuracy` });
    val.push({ points: r.epochs.map((e) => [e.epoch, e.val_loss]), color: i ? "#b86b9a" : "#1e8e5a",
      dots: true, dashed: i > 0, right: true, label: `${runs.length > 1 ? r.name + " " : ""}cross-entropy (right)` });
  });
  chart($("val-chart"), val, {
    xLabel: (x) => `epoch ${Math.round(x)}`, yLabel: (y) => `${(100 * y).toFixed(1)}%`, y2: true,
  });
}

// ---------- the snapshot: weights, panel, one digit's layers ----------
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function ramp(v) {
  const x = Math.min(Math.max(v, 0), 1) * (RAMP.length - 1);
  const i = Math.min(Math.floor(x), RAMP.length - 2), t = x - i;
  return RAMP[i].map((c, k) => Math.round(c + t * (RAMP[i + 1][k] - c)));
}
function diverging(v) {  // 0 blue, 0.5 white, 1 red
  const t = Math.abs(v - 0.5) * 2;
  return v < 0.5 ? [Math.round(255 - 200 * t), Math.round(255 - 150 * t), 255]
    : [255, Math.round(255 - 170 * t), Math.round(255 - 200 * t)];
}
function grey(v) { const g = Math.round(255 * v); return [g, g, g]; }

function tiles(box, count, make) {
  while (box.children.length > count) box.lastChild.remove();
  while (box.children.length < count) box.appendChild(make());
  return [...box.children];
}
function paint(canvas, data, offset, w, h, colour) {
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const c = canvas.getContext("2d");
  const img = c.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const rgb = colour(data[offset + i] / 255);
    img.data[4 * i] = rgb[0]; img.data[4 * i + 1] = rgb[1]; img.data[4 * i + 2] = rgb[2];
    img.data[4 * i + 3] = 255;
  }
  c.putImageData(img, 0, 0);
}

function drawSnapshot() {
  const s = run && run.snapshot;
  if (!s) return;
  const wts = s.weights, [n, h, w] = wts.shape, wb = bytes(wts.data);
  $("weights-title").textContent = `First-layer weights · ${wts.title}`;
  const wbox = $("weights");
  const columns = n > 16 ? 8 : n > 8 ? 6 : Math.ceil(n / 2);
  wbox.style.gridTemplateColumns = `repeat(${columns}, minmax(0, 1fr))`;
  wbox.style.maxWidth = n > 8 ? "" : "260px";
  tiles(wbox, n, () => document.createElement("canvas"))
    .forEach((cv, k) => paint(cv, wb, k * h * w, w, h, diverging));
  body.dataset.snapshotStep = String(s.step);

  const panel = s.panel, images = bytes(panel.images);
  let right = 0;
  const figures = tiles($("panel"), panel.labels.length, () => {
    const f = document.createElement("figure");
    f.append(document.createElement("canvas"), document.createElement("figcaption"));
    return f;
  });
  figures.forEach((f, k) => {
    const p = panel.probabilities[k];
    const guess = p.indexOf(Math.max(...p));
    const ok = guess === panel.labels[k];
    right += ok;
    f.className = ok ? "right" : "wrong";
    paint(f.firstChild, images, k * 784, 28, 28, grey);
    f.lastChild.innerHTML = `<b>${guess}</b><span class="pct"> ${Math.round(100 * p[guess])}%</span>`;
    f.title = `label ${panel.labels[k]}, guess ${guess}`;
  });
  $("panel-score").textContent = `${right} of ${panel.labels.length} right at step ${s.step.toLocaleString("en")}`
    + " (red: wrong; the number is the guess and its probability)";

  const act = s.activations;
  $("act-title").textContent = `One digit (a ${act.label}) through the network`;
  const layers = tiles($("layers"), act.layers.length + 1, () => {
    const d = document.createElement("div");
    d.className = "layer";
    d.innerHTML = '<div class="layer-name"></div><div class="maps"></div>';
    return d;
  });
  const first = { name: "input", shape: [1, 28, 28], data: null };
  [first, ...act.layers].forEach((layer, k) => {
    const box = layers[k];
    const shape = layer.shape;
    const data = layer.data ? bytes(layer.data) : images.subarray(0, 784);
    box.firstChild.textContent = `${layer.name} ${shape.join("×")}` +
      (layer.data ? ` (${(+layer.min).toPrecision(2)} to ${(+layer.max).toPrecision(2)})` : "");
    const maps = box.children[1];
    if (shape.length === 3) {
      const [m, hh, ww] = shape;
      maps.className = "maps";
      tiles(maps, m, () => document.createElement("canvas"))
        .forEach((cv, i) => paint(cv, data, i * hh * ww, ww, hh, layer.data ? ramp : grey));
    } else {
      maps.className = "";
      const [cv] = tiles(maps, 1, () => { const c = document.createElement("canvas"); c.className = "strip"; return c; });
      paint(cv, data, 0, shape[0], 1, ramp);
      if (shape[0] === 10 && !box.querySelector(".classes")) {  // the output: name each class
        const names = document.createElement("div");
        names.className = "classes";
        names.append(...[...Array(10).keys()].map((d) => Object.assign(document.createElement("span"), { textContent: d })));
        box.appendChild(names);
      }
    }
  });
}

// ---------- the list of runs and the start form ----------
async function refreshList() {
  try { info = await api("/api/runs"); } catch (err) { return; }
  $("root").textContent = `in ${info.root}/`;
  const list = $("runs");
  list.replaceChildren(...info.runs.map((r) => {
    const li = document.createElement("li");
    li.dataset.name = r.name;
    const pct = r.epochs ? ` · ${Math.floor(r.progress || 0)}/${r.epochs}` : "";
    li.innerHTML = '<span class="rname"></span><span class="badge"></span>';
    li.firstChild.textContent = r.name;
    li.firstChild.title = `${r.description || ""}${pct}${r.reason ? " · " + r.reason : ""}`;
    li.lastChild.textContent = r.status;
    li.lastChild.className = "badge " + r.status;
    li.addEventListener("click", () => open(r.name));
    return li;
  }));
  $("no-runs").hidden = info.runs.length > 0;
  const cmp = $("compare"), chosen = cmp.value;
  cmp.replaceChildren(new Option("–", ""), ...info.runs.filter((r) => !run || r.name !== run.name)
    .map((r) => new Option(r.name, r.name)));
  cmp.value = chosen;
  if (!formReady && info.form) fillForm();
  $("start").querySelector("button").disabled = !info.steering;
  if (!info.steering) $("start-error").textContent = "This server only watches: it listens beyond this machine (serve --allow-training lets the page start runs).";
  markList();
  if (run) controls(run.status ? run.status.status : null);
  body.dataset.ready = "1";
}
function markList() {
  for (const li of $("runs").children) li.classList.toggle("open", !!run && li.dataset.name === run.name);
}

let formReady = false;
function fillForm() {
  formReady = true;
  const form = $("start");
  const model = form.elements.model;
  const apply = () => {
    const d = info.form.models[model.value];
    for (const key of ["optimizer", "lr", "batch_size", "epochs", "l2"]) form.elements[key].value = d[key];
    form.elements.hidden.placeholder = info.form.models.mlp.hidden;
    for (const label of form.querySelectorAll("[data-for]")) label.hidden = !label.dataset.for.split(" ").includes(model.value);
  };
  model.addEventListener("change", apply);
  apply();
  const lim = info.form.limits;
  for (const key of ["lr", "batch_size", "epochs", "l2", "limit_train", "seed"]) {
    form.elements[key].min = lim[key][0]; form.elements[key].max = lim[key][1];
  }
}

$("start").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target, settings = {};
  for (const el of form.elements) {
    if (!el.name || el.value === "" || el.closest("label[hidden]")) continue;
    settings[el.name] = el.type === "number" ? Number(el.value) : el.value;
  }
  $("start-error").textContent = "";
  try {
    const started = await api("/api/runs", { method: "POST", body: JSON.stringify(settings) });
    await refreshList();
    open(started.name);
  } catch (err) { $("start-error").textContent = err.message; }
});

// ---------- the draw pad: read with the open run's current weights ----------
const pad = $("pad"), ctx = pad.getContext("2d");
let drawn = false, last = null, asking = false, again = false;
function clearPad() {
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, pad.width, pad.height);
  drawn = false; pad.classList.remove("drawn");
  $("digit").textContent = "?"; $("digit").classList.add("empty");
  $("guesses").textContent = "Draw a digit: its reading changes as the network learns.";
}
function at(e) {
  const r = pad.getBoundingClientRect();
  return { x: ((e.clientX - r.left) * pad.width) / r.width, y: ((e.clientY - r.top) * pad.height) / r.height };
}
function line(a, b) {
  ctx.strokeStyle = "#111"; ctx.lineWidth = 18; ctx.lineCap = ctx.lineJoin = "round";
  ctx.beginPath(); ctx.moveTo(a.x, a.y); ctx.lineTo(b.x + 0.01, b.y); ctx.stroke();
}
pad.addEventListener("pointerdown", (e) => {
  e.preventDefault(); pad.setPointerCapture(e.pointerId);
  last = at(e); line(last, last); drawn = true; pad.classList.add("drawn");
});
pad.addEventListener("pointermove", (e) => {
  if (!last) return;
  for (const q of e.getCoalescedEvents ? e.getCoalescedEvents() : [e]) { const p = at(q); line(last, p); last = p; }
});
const up = () => { if (last) { last = null; readPad(); } };
pad.addEventListener("pointerup", up);
pad.addEventListener("pointercancel", up);
$("clear").addEventListener("click", clearPad);

function rereadPad() { if (drawn && !last) readPad(); }
function readPad() {
  if (!drawn || !run) return;
  if (asking) { again = true; return; }
  asking = true;
  pad.toBlob(async (blob) => {
    try {
      const response = await fetch(`/api/runs/${encodeURIComponent(run.name)}/predict`, { method: "POST", body: blob });
      const a = await response.json();
      if (!response.ok) throw new Error(a.error);
      const p = a.probabilities, order = p.map((v, i) => i).sort((x, y) => p[y] - p[x]);
      $("digit").textContent = a.label; $("digit").classList.remove("empty");
      $("guesses").textContent = order.slice(0, 3).map((i) => `${i}: ${(100 * p[i]).toFixed(1)}%`).join(" · ")
        + ` (step ${run.snapshot ? run.snapshot.step.toLocaleString("en") : "?"})`;
      body.dataset.padReads = String(Number(body.dataset.padReads || 0) + 1);
    } catch (err) {
      $("guesses").textContent = err.message;
    } finally {
      asking = false;
      if (again) { again = false; readPad(); }
    }
  }, "image/png");
}

// ---------- start ----------
window.addEventListener("resize", schedule);
clearPad();
refreshList().then(() => {
  const wanted = decodeURIComponent((location.hash.match(/run=([^&]+)/) || [])[1] || "");
  const first = info.runs.find((r) => LIVE.has(r.status)) || info.runs[0];
  open(wanted || (first && first.name) || null);
});
setInterval(refreshList, 3000);
