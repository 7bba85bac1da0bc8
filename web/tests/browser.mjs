// wgae's browser tests, in headless Chromium (Debian's, driven by
// playwright-core): the kernel checks page against the native run of the
// same checks, the page training on digits (the loss must fall), scoring a
// drawing, model files round-tripped with the CLI both ways, bad input and a
// browser without WebGPU. Fails (exit 1) on any mismatch; a browser without
// a WebGPU adapter is a failure.
//
//   node web/tests/browser.mjs --native FILE --wgae BIN [--screenshot PNG]
//                              [--epochs N] [--chromium PATH]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { compareReports } from "./compare.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const EPOCHS = Number(args.epochs || 5);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wgae-web-"));
const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

function launch() {
  return chromium.launch({
    executablePath: args.chromium || "/usr/bin/chromium",
    // WebGPU in headless Chromium (SwiftShader where there is no GPU); the
    // rest keeps a closed network from being asked anything.
    args: [
      "--no-sandbox",
      "--enable-unsafe-webgpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

// A page that records its console and its uncaught errors.
async function open(browser, url, init) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.log = [];
  page.errors = [];
  page.on("console", (m) => page.log.push(m.text()));
  page.on("pageerror", (e) => page.errors.push(e.message));
  await page.goto(url);
  return page;
}

const until = (page, states, timeout = 600_000) =>
  page.waitForFunction((s) => s.includes(document.body.dataset.state), states, { timeout });

async function kernelChecks(browser, base) {
  const page = await open(browser, `${base}/checks.html`);
  await until(page, ["done"]);
  const report = await page.evaluate(() => window.wgaeReport);
  check(!report.error, `kernel checks ran in the browser${report.error ? ": " + report.error : ""}`);
  if (report.error) return null;
  for (const c of report.checks) check(c.ok, `browser: ${c.name} ${c.detail}`);
  const native = JSON.parse(fs.readFileSync(args.native, "utf8"));
  for (const [ok, what] of compareReports(native, report)) check(ok, what);
  check(page.errors.length === 0, `checks page: no uncaught errors ${page.errors.join("; ")}`);
  await page.context().close();
  return report;
}

// Writes the first `n` digits as an .npy of f32 in [0, 1] and returns them.
async function digitsNpy(page, n, file) {
  const rows = await page.evaluate((n) => Array.from(wgaeApp.digits.pixels.subarray(0, n * 784)), n);
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${n}, 784), }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";
  const pre = Buffer.alloc(10);
  pre.write("\x93NUMPY", 0, "latin1");
  pre.writeUInt8(1, 6);
  pre.writeUInt8(0, 7);
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, "latin1"), Buffer.from(new Float32Array(rows).buffer)]));
  return rows;
}

function cliScores(model, data) {
  const out = path.join(tmp, `scores-${path.basename(model)}.csv`);
  execFileSync(args.wgae, ["anomaly", "--model", model, "--data", data, "--out", out, "--force"], { stdio: "pipe" });
  return fs.readFileSync(out, "utf8").trim().split("\n").slice(1).map((l) => Number(l.split(",")[1]));
}

const pageScores = (page, rows) => page.evaluate(async (r) => Array.from(await wgaeApp.model.score(new Float32Array(r))), rows);

function same(a, b, what) {
  const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i]) / (Math.abs(b[i]) + 1e-6)));
  check(a.length === b.length && worst < 1e-4, `${what} (${a.length} rows, worst relative difference ${worst.toExponential(2)})`);
}

async function trainAndRoundTrip(browser, base) {
  const page = await open(browser, `${base}/index.html?epochs=${EPOCHS}&auto=1`);
  await until(page, ["trained", "error", "no-webgpu"]);
  const state = await page.evaluate(() => document.body.dataset.state);
  check(state === "trained", `the page trained (state ${state}; ${await page.textContent("#message")})`);
  if (state !== "trained") return null;
  const losses = page.log.filter((l) => l.startsWith("wgae epoch")).map((l) => Number(l.split(" ")[4]));
  check(losses.length === EPOCHS, `one loss per epoch in the console (${losses.length} of ${EPOCHS})`);
  check(losses.at(-1) < 0.7 * losses[0], `the loss falls (${losses[0]} -> ${losses.at(-1)})`);
  const speed = Number(page.log.filter((l) => l.startsWith("wgae epoch")).at(-1).split(" ")[6]);

  // Draw a stroke (a "1") and score it.
  const pad = await page.locator("#draw").boundingBox();
  await page.mouse.move(pad.x + 120, pad.y + 40);
  await page.mouse.down();
  await page.mouse.move(pad.x + 110, pad.y + 190, { steps: 12 });
  await page.mouse.up();
  await page.click("#score");
  await page.waitForFunction(() => /score \d/.test(document.getElementById("verdict").textContent));
  check(true, `a drawn digit is scored: ${await page.textContent("#verdict")}`);
  if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true });

  // Page -> CLI: the page's model file scores the same in `wgae anomaly`.
  const data = path.join(tmp, "digits.npy");
  const rows = await digitsNpy(page, 64, data);
  const saved = path.join(tmp, "page.safetensors");
  fs.writeFileSync(saved, Buffer.from(await page.evaluate(async () => Array.from(await wgaeApp.model.save()))));
  same(await pageScores(page, rows), cliScores(saved, data), "the page's model file gives the page's scores in wgae anomaly");

  // CLI -> page: a model the CLI trained, loaded through the page's file input.
  const cli = path.join(tmp, "cli.safetensors");
  execFileSync(args.wgae, ["train", "--data", data, "--arch", "784,32", "--epochs", "2", "--save", cli, "--force"], { stdio: "pipe" });
  await page.setInputFiles("#load", cli);
  await until(page, ["loaded"], 60_000);
  same(await pageScores(page, rows), cliScores(cli, data), "the CLI's model file gives the CLI's scores in the page");

  await badInput(page);
  check(page.errors.length === 0, `training page: no uncaught errors ${page.errors.join("; ")}`);
  await page.context().close();
  return { losses, speed };
}

// A file that is not a model and one that is not an image: a message in the
// page each, and no uncaught error.
async function badInput(page) {
  const junk = path.join(tmp, "notes.txt");
  fs.writeFileSync(junk, "not a model and not an image\n");
  await page.setInputFiles("#load", junk);
  await page.waitForFunction(() => !document.getElementById("message").hidden && /notes\.txt/.test(document.getElementById("message").textContent));
  check(true, `a bad model file is refused in the page: ${await page.textContent("#message")}`);
  await page.setInputFiles("#upload", junk);
  await page.waitForFunction(() => /not an image/.test(document.getElementById("message").textContent));
  check(true, `a non-image upload is refused in the page: ${await page.textContent("#message")}`);
}

// The page in a browser without WebGPU says so.
async function withoutWebGpu(browser, base) {
  const page = await open(browser, `${base}/index.html`, () => delete Navigator.prototype.gpu);
  await until(page, ["no-webgpu", "ready", "error"], 60_000);
  const message = await page.textContent("#message");
  check(/no WebGPU/.test(message), `without WebGPU the page says so: ${message}`);
  check(page.errors.length === 0, `no-WebGPU page: no uncaught errors ${page.errors.join("; ")}`);
  await page.context().close();
}

// The page served as the README serves it (`node web/tests/serve.mjs PORT`),
// on a free port.
async function startServer() {
  const child = spawn(process.execPath, [fileURLToPath(new URL("serve.mjs", import.meta.url)), "0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(String(d));
      if (m) resolve(m[0]);
    });
    child.on("exit", (code) => reject(new Error(`web/tests/serve.mjs exited (${code})`)));
  });
  return { child, url };
}

const server = await startServer();
const base = server.url;
const browser = await launch();
let summary = {};
try {
  const report = await kernelChecks(browser, base);
  const trained = await trainAndRoundTrip(browser, base);
  await withoutWebGpu(browser, base);
  summary = { checks_seconds: report && report.seconds, ...trained };
} catch (e) {
  check(false, `the browser tests ran to the end: ${e.message}`);
} finally {
  await browser.close();
  server.child.kill();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log("wgae-web summary: " + JSON.stringify(summary));
if (failures.length) {
  console.log(`${failures.length} browser check(s) FAILED:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log("all browser checks passed");
