// Runs wgae's kernel checks (web/src/checks) on the browser's adapter: every
// pipeline compiled by the browser's WGSL compiler, kernels against their
// f64 twins, and training steps against the f64 trainer. The report is
// logged to the console as one line ("wgae-checks: {...}") and kept in
// window.wgaeReport, for web/run.mjs; the page's body gets data-state.
import init, { runChecks, gpuInfo } from "./pkg/wgae_web.js";

const status = document.getElementById("status");
const rows = document.querySelector("#checks tbody");

function row(c) {
  const tr = document.createElement("tr");
  tr.className = c.ok ? "ok" : "fail";
  const worst = c.worst === null ? "∞" : c.worst.toExponential(2);
  for (const v of [c.name, c.ok ? "ok" : "FAIL", worst, c.detail]) {
    const td = document.createElement("td");
    td.textContent = v;
    tr.appendChild(td);
  }
  rows.appendChild(tr);
}

async function main() {
  if (!navigator.gpu) {
    throw new Error("this browser has no WebGPU (navigator.gpu is missing)");
  }
  await init();
  const info = await gpuInfo();
  document.getElementById("adapter").textContent = JSON.stringify(info, null, 1);
  const report = await runChecks(row);
  window.wgaeReport = report;
  const failed = report.checks.filter((c) => !c.ok).length;
  status.textContent = failed
    ? `${failed} of ${report.checks.length} checks FAILED (${report.seconds.toFixed(1)} s)`
    : `all ${report.checks.length} checks passed in ${report.seconds.toFixed(1)} s`;
  console.log("wgae-checks: " + JSON.stringify(report));
}

main()
  .catch((e) => {
    status.textContent = "The checks could not run: " + (e && e.message ? e.message : e);
    window.wgaeReport = { error: String(e && e.message ? e.message : e) };
    console.log("wgae-checks: " + JSON.stringify(window.wgaeReport));
  })
  .finally(() => document.body.setAttribute("data-state", "done"));
