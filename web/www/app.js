// The page: trains a wgae model on MNIST digits in this tab, draws the loss
// and the reconstructions, scores a drawn or uploaded digit, and saves and
// loads the CLI's model files. Each epoch's loss goes to the console
// ("wgae epoch N loss X samples/s Y"), and <body data-state> says where the
// page is (loading, ready, training, trained, error, no-webgpu), so that a
// headless run can be checked from outside (web/run.mjs).
//
// URL parameters: ?epochs=N&count=N&preset=dense|conv&auto=1 (train at once).
import init, { Model, gpuInfo } from "./pkg/wgae_web.js";
import { loadDigits, onePerClass, rowsOf } from "./digits.js";
import { drawLoss, drawStrip, drawDigit } from "./plots.js";
import { makePad, toRow } from "./pad.js";

const PRESETS = {
  dense: `# As wgae train --config reads it.
[model]
input_dim = 784
encoder = [128, 32]
act = "relu"
out_act = "sigmoid"
loss = "bce"

[train]
batch_size = 64
optimizer = "adam"
lr = 0.002
seed = 1
`,
  conv: `[model]
input_shape = [1, 28, 28]
act = "relu"
out_act = "sigmoid"
loss = "bce"

[[model.encoder_layers]]
type = "conv2d"
filters = 8
kernel = 3
stride = 2
padding = "same"

[[model.encoder_layers]]
type = "conv2d"
filters = 16
kernel = 3
stride = 2
padding = "same"

[[model.encoder_layers]]
type = "flatten"

[[model.encoder_layers]]
type = "dense"
units = 32

[train]
batch_size = 64
optimizer = "adam"
lr = 0.002
seed = 1
`,
};

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = (s) => document.body.setAttribute("data-state", s);
const app = { model: null, digits: null, losses: [], stop: false };
window.wgaeApp = app; // for web/run.mjs

function say(text, kind = "error") {
  const m = $("message");
  m.textContent = text;
  m.className = "message" + (kind === "info" ? " info" : "");
  m.hidden = !text;
  if (text) console.log(`wgae ${kind}: ${text}`);
}

const messageOf = (e) => (e && e.message ? e.message : String(e));

// Runs an event handler, showing its error in the page (never an uncaught
// exception in the console).
const guarded = (f) => async (...args) => {
  try {
    say("");
    await f(...args);
  } catch (e) {
    say(messageOf(e));
    if (document.body.dataset.state === "training") state("error");
  }
};

function enable(on) {
  $("train").disabled = !on;
  $("download").disabled = !on || !app.model;
  $("score").disabled = !on || !app.model;
}

const sample = () => rowsOf(app.digits.pixels, onePerClass(app.digits.labels));

async function showReconstructions() {
  const originals = sample();
  drawStrip($("recon"), originals, app.model ? await app.model.reconstruct(originals) : null);
}

async function train() {
  const epochs = Number($("epochs").value);
  const count = Math.min(Number($("count").value), app.digits.count);
  if (!(epochs >= 1 && Number.isInteger(epochs))) throw new Error("Epochs must be a whole number of at least 1");
  if (!(count >= 10)) throw new Error("Digits must be at least 10");
  const model = await Model.create($("config").value);
  if (model.inputDim !== 784) {
    throw new Error(`The model takes ${model.inputDim} values per row, but the page's digits are 28 x 28 = 784`);
  }
  model.setSampleShape([28, 28]);
  app.losses = [];
  app.stop = false;
  drawLoss($("loss"), app.losses);
  state("training");
  enable(false);
  $("stop").disabled = false;
  const t0 = performance.now();
  let speed = 0;
  try {
    const data = app.digits.pixels.subarray(0, count * 784);
    await model.fit(data, { epochs }, (r) => {
      app.losses.push(r.train_loss);
      speed = r.samples_per_sec;
      drawLoss($("loss"), app.losses);
      $("speed").textContent = `epoch ${r.epoch} of ${epochs}: loss ${r.train_loss.toFixed(4)}, ${Math.round(speed)} samples/s`;
      console.log(`wgae epoch ${r.epoch} loss ${r.train_loss.toFixed(6)} samples/s ${speed.toFixed(1)}`);
      return !app.stop;
    });
  } catch (e) {
    model.free();
    throw e;
  } finally {
    $("stop").disabled = true;
    enable(true);
  }
  if (app.model) app.model.free();
  app.model = model;
  enable(true);
  const seconds = (performance.now() - t0) / 1000;
  $("speed").textContent = `${app.losses.length} epochs of ${count} digits in ${seconds.toFixed(1)} s; ${Math.round(speed)} samples/s`;
  await showReconstructions();
  console.log(`wgae trained: ${app.losses.length} epochs, loss ${app.losses[0]} -> ${app.losses.at(-1)}, threshold ${model.threshold(3)}`);
  state("trained");
}

async function score(row, note = "") {
  if (!app.model) throw new Error("Train or load a model first");
  const [err] = await app.model.score(row);
  const rec = await app.model.reconstruct(row);
  const g = $("drawn-recon").getContext("2d");
  drawDigit(g, rec, 0, 0, 4);
  const t = app.model.threshold(3);
  const verdict = t === undefined ? "" : err > t ? " — unusual (above the threshold)" : " — looks like the training digits";
  const thr = t === undefined ? "" : `; threshold ${t.toFixed(4)} (median + 3 robust deviations of the training errors)`;
  $("verdict").textContent = `score ${err.toFixed(4)}${thr}${verdict}${note}`;
  console.log(`wgae score ${err}`);
}

async function upload(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`${file.name} is not an image this browser can read (PNG, JPEG, GIF, WebP...)`);
  }
  const { row, inverted } = toRow(bitmap);
  const g = $("draw").getContext("2d");
  g.fillStyle = "#000";
  g.fillRect(0, 0, 224, 224);
  drawDigit(g, row, 0, 0, 8);
  await score(row, inverted ? " (a light image: inverted to white on black, as MNIST)" : "");
}

async function load(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let model;
  try {
    model = await Model.load(bytes);
  } catch (e) {
    throw new Error(`${file.name}: ${messageOf(e)}`);
  }
  if (model.inputDim !== 784) {
    model.free();
    throw new Error(`${file.name} takes ${model.inputDim} values per row; this page scores 28 x 28 digits (784)`);
  }
  if (app.model) app.model.free();
  app.model = model;
  enable(true);
  await showReconstructions();
  say(`Loaded ${file.name}: ${model.description.split("\n").length} lines of description, code of ${model.codeDim}`, "info");
  state("loaded");
}

async function download() {
  const bytes = await app.model.save();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  a.download = "wgae-digits.safetensors";
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function main() {
  window.addEventListener("unhandledrejection", (e) => say(messageOf(e.reason)));
  window.addEventListener("error", (e) => say(messageOf(e.error || e.message)));
  const preset = params.get("preset") in PRESETS ? params.get("preset") : "dense";
  $("preset").value = preset;
  $("config").value = PRESETS[preset];
  if (params.get("epochs")) $("epochs").value = params.get("epochs");
  if (params.get("count")) $("count").value = params.get("count");
  drawLoss($("loss"), []);
  if (!navigator.gpu) {
    $("gpu").textContent = "No WebGPU";
    say("This browser has no WebGPU, so wgae cannot run here. Use Chrome or Edge 113 or later, Safari 26, or Firefox 141 or later on Windows (or enable WebGPU in the browser's settings).");
    state("no-webgpu");
    return;
  }
  await init();
  const info = await gpuInfo();
  $("gpu").textContent = `GPU: ${info.name || "the browser's WebGPU adapter"} (${info.backend}), up to ${Math.round(info.max_storage_buffer_binding_size / 2 ** 20)} MiB per buffer`;
  app.digits = await loadDigits();
  drawStrip($("recon"), sample(), null);
  const pad = makePad($("draw"));
  $("preset").onchange = () => ($("config").value = PRESETS[$("preset").value]);
  $("train").onclick = guarded(train);
  $("stop").onclick = () => (app.stop = true);
  $("download").onclick = guarded(download);
  $("load").onchange = guarded(async (e) => e.target.files[0] && load(e.target.files[0]));
  $("upload").onchange = guarded(async (e) => e.target.files[0] && upload(e.target.files[0]));
  $("score").onclick = guarded(() => score(pad.row().row));
  $("clear").onclick = () => pad.clear();
  enable(true);
  state("ready");
  console.log("wgae ready: " + JSON.stringify(info));
  if (params.get("auto") === "1") await guarded(train)();
}

main().catch((e) => {
  say(messageOf(e));
  state("error");
});
