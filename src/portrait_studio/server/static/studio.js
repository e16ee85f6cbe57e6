// The web studio. Everything it shows comes from GET /v1/operations: the operations, and for each its
// controls, built from its parameters' JSON Schema (sliders with their ranges, choices, switches, colours,
// uploads for image inputs), its rules (exclusive groups) and its side results. No operation is named here.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = {
  ops: {},            // name -> listing entry
  session: null,      // promise of the session's JSON
  values: {},         // current step's parameter values (only those set)
  uploads: new Set(), // current step's image inputs uploaded to the session
  steps: [],          // the recipe so far: [{op, params, uploads}]
  busy: false, again: false, resultUrl: null,
};

function status(text, error = false) {
  const el = $("#status");
  el.textContent = text || "";
  el.classList.toggle("error", !!error);
}

async function call(url, init) {
  const r = await fetch(url, init);
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = (await r.json()).detail; } catch (e) { /* not JSON */ }
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return r;
}

// -- controls from the schema ----------------------------------------------------------------------

function unwrap(prop) {
  // "X | None" is anyOf [X, null]: the control of X, marked nullable
  if (prop.anyOf) {
    const inner = prop.anyOf.filter((p) => p.type !== "null");
    if (inner.length === 1) return { ...inner[0], nullable: true, default: prop.default, description: prop.description, title: prop.title };
  }
  return prop;
}

function niceStep(p) {
  if (p.type === "integer") return 1;
  const span = p.maximum - p.minimum;
  const raw = span / 400;
  const pow = Math.pow(10, Math.floor(Math.log10(raw)));
  return [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw);
}

function fmt(v) {
  if (v === null || v === undefined || v === "") return "auto";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(+v.toPrecision(4));
  return String(v);
}

function currentOp() { return state.ops[$("#operation").value]; }

function exclusiveReset(op, name) {
  // a rule of the contract: in each group at most one member is given; setting one clears the others
  for (const group of op.schema.exclusive || []) {
    const members = group.map((m) => (Array.isArray(m) ? m : [m]));
    const mine = members.find((m) => m.includes(name));
    if (!mine) continue;
    for (const other of members) {
      if (other === mine) continue;
      for (const n of other) { delete state.values[n]; state.uploads.delete(n); }
    }
  }
}

function setValue(name, value) {
  const op = currentOp();
  const def = unwrap(op.schema.properties[name]).default;
  if (value === def || value === null || value === undefined) delete state.values[name];
  else { state.values[name] = value; exclusiveReset(op, name); }
  syncControls();
  schedulePreview();
}

function buildControls() {
  const op = currentOp();
  const box = $("#controls");
  box.innerHTML = "";
  $("#summary").textContent = op ? op.description : "";
  if (!op) return;
  for (const [name, raw] of Object.entries(op.schema.properties || {})) {
    const p = unwrap(raw);
    const div = document.createElement("div");
    div.className = "control";
    div.dataset.name = name;
    div.innerHTML = `<div class="head"><span class="name"></span><span class="value"></span></div><div class="input"></div><div class="desc"></div>`;
    div.querySelector(".name").textContent = p.title || name;
    div.querySelector(".desc").textContent = p.description || "";
    const slot = div.querySelector(".input");
    let input;
    if (p.input === "image") {
      input = document.createElement("input");
      input.type = "file"; input.accept = "image/*";
      input.addEventListener("change", () => uploadInput(name, input.files[0]));
    } else if (p.enum) {
      input = document.createElement("select");
      const opts = (p.nullable ? [""] : []).concat(p.enum);
      for (const v of opts) {
        const o = document.createElement("option");
        o.value = v; o.textContent = v === "" ? "auto" : v;
        input.appendChild(o);
      }
      input.addEventListener("change", () => setValue(name, input.value === "" ? null : input.value));
    } else if (p.type === "boolean") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.addEventListener("change", () => setValue(name, input.checked));
    } else if ((p.type === "number" || p.type === "integer") && p.minimum !== undefined && p.maximum !== undefined) {
      input = document.createElement("input");
      input.type = "range"; input.name = name;
      input.min = p.minimum; input.max = p.maximum; input.step = niceStep(p);
      input.addEventListener("input", () => setValue(name, p.type === "integer" ? parseInt(input.value, 10) : parseFloat(input.value)));
      if (p.nullable) {
        const auto = document.createElement("button");
        auto.type = "button"; auto.textContent = "auto"; auto.title = "back to the default (automatic)";
        auto.addEventListener("click", () => setValue(name, null));
        div.querySelector(".head").appendChild(auto);
      }
    } else if (p.type === "number" || p.type === "integer") {
      input = document.createElement("input");
      input.type = "number"; input.step = p.type === "integer" ? 1 : "any";
      if (p.minimum !== undefined) input.min = p.minimum;
      if (p.maximum !== undefined) input.max = p.maximum;
      input.addEventListener("change", () => setValue(name, input.value === "" ? null : Number(input.value)));
    } else if (p.type === "string" && /#rrggbb/i.test(p.description || "")) {
      // a colour, as the parameter's description documents it
      input = document.createElement("input");
      input.type = "color";
      input.addEventListener("input", () => setValue(name, input.value));
    } else {
      input = document.createElement("input");
      input.type = "text";
      input.addEventListener("change", () => setValue(name, input.value === "" ? null : input.value));
    }
    input.dataset.param = name;
    slot.appendChild(input);
    box.appendChild(div);
  }
  const show = $("#show");
  show.innerHTML = '<option value="result">result</option>';
  for (const [name, e] of Object.entries(op.extras || {})) {
    if (e.kind === "json") continue;
    const o = document.createElement("option");
    o.value = name; o.textContent = `${name}: ${e.description}`;
    show.appendChild(o);
  }
  syncControls();
}

function syncControls() {
  const op = currentOp();
  if (!op) return;
  for (const div of document.querySelectorAll("#controls .control")) {
    const name = div.dataset.name;
    const p = unwrap(op.schema.properties[name]);
    const input = div.querySelector("[data-param]");
    const set = name in state.values;
    const v = set ? state.values[name] : p.default;
    div.classList.toggle("unset", !set && p.nullable);
    if (p.input === "image") {
      div.querySelector(".value").textContent = state.uploads.has(name) ? "uploaded" : "none";
      if (!state.uploads.has(name)) input.value = "";
      continue;
    }
    if (input.type === "checkbox") input.checked = !!v;
    else if (input.type === "range") {
      if (v !== null && v !== undefined) input.value = v;
      else input.value = (p.minimum + p.maximum) / 2;
    } else if (input.type === "color") { if (v) input.value = v; }
    else input.value = v === null || v === undefined ? "" : v;
    div.querySelector(".value").textContent = fmt(v);
  }
}

// -- session, preview, recipe, export ----------------------------------------------------------------

function openSession(file) {
  const body = new FormData();
  body.append("photo", file);
  status("reading the photo and finding the face…");
  state.steps = []; renderSteps();
  state.session = call("/v1/sessions", { method: "POST", body }).then((r) => r.json());
  state.session.then(async (s) => {
    status(`${s.width}×${s.height} px, ${s.faces} face${s.faces === 1 ? "" : "s"}; preview ${s.preview.width}×${s.preview.height}`);
    const face = $("#face");                 // which face, when there are several (a run option)
    face.innerHTML = "";
    for (let i = 0; i < s.faces; i++) face.add(new Option(i === 0 ? "0 (largest)" : String(i), String(i)));
    $("#face-row").hidden = s.faces < 2;
    const before = $("#before");
    before.src = `/v1/sessions/${s.id}/photo`;
    $("#stage").classList.remove("empty");
    schedulePreview();
  }, (e) => status(e.message, true));
  return state.session;
}

async function uploadInput(name, file) {
  if (!file || !state.session) return;
  const s = await state.session;
  const body = new FormData();
  body.append("image", file);
  try {
    await call(`/v1/sessions/${s.id}/inputs/${encodeURIComponent(name)}`, { method: "POST", body });
    state.uploads.add(name);
    exclusiveReset(currentOp(), name);
    syncControls();
    schedulePreview();
  } catch (e) { status(e.message, true); }
}

function runOptions() {
  const face = $("#face").value;
  return face && face !== "0" ? { face: parseInt(face, 10) } : {};
}

function currentStep() {
  return { op: $("#operation").value, params: { ...state.values }, uploads: [...state.uploads] };
}

function schedulePreview() {
  if (!state.session) return;
  if (state.busy) { state.again = true; return; }
  preview();
}

async function preview() {
  state.busy = true;
  const slow = setTimeout(() => status("working on the preview (an operation's first run on a photo takes longest)…"), 600);
  try {
    const s = await state.session;
    const body = JSON.stringify({ steps: state.steps.concat([currentStep()]), show: $("#show").value, options: runOptions() });
    const t = performance.now();
    const r = await call(`/v1/sessions/${s.id}/preview`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
    const blob = await r.blob();
    const url = URL.createObjectURL(blob);
    const img = $("#result");
    img.onload = () => { if (state.resultUrl && state.resultUrl !== url) URL.revokeObjectURL(state.resultUrl); state.resultUrl = url; };
    img.src = url;
    $("#timing").textContent = `work ${r.headers.get("X-Work-Ms")} ms, round trip ${Math.round(performance.now() - t)} ms`;
    status("");
  } catch (e) {
    status(e.message, true);
  } finally {
    clearTimeout(slow);
    state.busy = false;
    if (state.again) { state.again = false; schedulePreview(); }
  }
}

function renderSteps() {
  const ol = $("#steps");
  ol.innerHTML = "";
  state.steps.forEach((st, i) => {
    const li = document.createElement("li");
    li.innerHTML = "<b></b> <code></code><button type='button' title='remove'>×</button>";
    li.querySelector("b").textContent = st.op;
    li.querySelector("code").textContent = JSON.stringify(st.params) + (st.uploads.length ? " + " + st.uploads.join(", ") : "");
    li.querySelector("button").addEventListener("click", () => { state.steps.splice(i, 1); renderSteps(); schedulePreview(); });
    ol.appendChild(li);
  });
}

function download(blob, name) {
  const a = $("#download");
  a.href = URL.createObjectURL(blob);
  a.download = name; a.textContent = `download ${name}`; a.hidden = false;
  a.click();
}

async function exportFull() {
  if (!state.session) { status("choose a photo first", true); return; }
  try {
    const s = await state.session;
    const format = $("#export-format").value || null;
    const body = JSON.stringify({ steps: state.steps.concat([currentStep()]), format, options: runOptions() });
    let job = await (await call(`/v1/sessions/${s.id}/export`, { method: "POST", headers: { "Content-Type": "application/json" }, body })).json();
    while (job.state === "queued" || job.state === "running") {
      const p = job.progress && job.progress.total ? ` (${job.progress.done}/${job.progress.total} ${job.progress.what})` : "";
      status(`exporting at ${s.width}×${s.height}: ${job.state}${p}…`);
      await new Promise((ok) => setTimeout(ok, 400));
      job = await (await call(`/v1/jobs/${job.id}`)).json();
    }
    const r = await call(`/v1/jobs/${job.id}/result`);
    const name = (r.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    download(await r.blob(), name ? name[1] : "portrait");
    status(`exported in ${job.seconds} s`);
  } catch (e) { status(e.message, true); }
}

async function saveRecipe() {
  const steps = state.steps.concat([currentStep()]).map((st) => ({ op: st.op, params: st.params }));
  try {
    const r = await call("/v1/recipes/yaml", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ steps }) });
    download(await r.blob(), "recipe.yaml");
  } catch (e) { status(e.message, true); }
}

async function loadRecipe(file) {
  try {
    const r = await call("/v1/recipes/parse", { method: "POST", headers: { "Content-Type": "text/yaml" }, body: await file.text() });
    state.steps = (await r.json()).steps;
    state.values = {}; state.uploads.clear();
    renderSteps(); syncControls(); schedulePreview();
    status(`recipe of ${state.steps.length} step${state.steps.length === 1 ? "" : "s"} loaded`);
  } catch (e) { status(e.message, true); }
}

function split() {
  const x = $("#split").value;
  $("#result").style.clipPath = $("#show").value === "result" ? `inset(0 0 0 ${x}%)` : "none";
  const d = $("#divider");
  d.style.left = `${x}%`;
  d.hidden = $("#show").value !== "result";
  $("#stage").classList.toggle("solo", $("#show").value !== "result");
}

async function start() {
  const ops = await (await call("/v1/operations")).json();
  const select = $("#operation");
  for (const op of ops) {
    state.ops[op.name] = op;
    if (op.frames) continue;        // several frames: over the REST API, not on one studio photo
    const o = document.createElement("option");
    o.value = op.name; o.textContent = op.name; o.title = op.description;
    select.appendChild(o);
  }
  buildControls();
  $("#photo").addEventListener("change", (e) => { if (e.target.files[0]) openSession(e.target.files[0]); });
  select.addEventListener("change", () => { state.values = {}; state.uploads.clear(); buildControls(); schedulePreview(); });
  $("#studio").addEventListener("submit", (e) => { e.preventDefault(); if (state.session) schedulePreview(); else status("choose a photo first", true); });
  $("#reset").addEventListener("click", () => { state.values = {}; state.uploads.clear(); syncControls(); schedulePreview(); });
  $("#add-step").addEventListener("click", () => {
    state.steps.push(currentStep()); state.values = {}; state.uploads.clear();
    renderSteps(); syncControls(); schedulePreview();
  });
  $("#clear-recipe").addEventListener("click", () => { state.steps = []; renderSteps(); schedulePreview(); });
  $("#save-recipe").addEventListener("click", saveRecipe);
  $("#load-recipe").addEventListener("change", (e) => { if (e.target.files[0]) loadRecipe(e.target.files[0]); e.target.value = ""; });
  $("#export").addEventListener("click", exportFull);
  $("#show").addEventListener("change", () => { split(); schedulePreview(); });
  $("#split").addEventListener("input", split);
  $("#face").addEventListener("change", schedulePreview);
  split();
}

start().catch((e) => status(e.message, true));
