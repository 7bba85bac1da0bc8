// The browser's kernel-check report set beside the native adapter's: the
// same checks pass on both (a kernel the browser's adapter cannot run, for
// want of subgroups or f16, is named), the trained parameters agree within
// the sum of both runs' tolerances against the f64 reference, and every
// limit that differs is listed.

const LIMITS = [
  "subgroups",
  "f16",
  "max_storage_buffer_binding_size",
  "max_buffer_size",
  "max_compute_workgroup_storage_size",
  "max_compute_invocations_per_workgroup",
  "max_compute_workgroups_per_dimension",
  "max_storage_buffers_per_shader_stage",
];

// [ok, what] pairs.
export function compareReports(native, browser) {
  const out = [];
  for (const k of LIMITS) {
    if (native.adapter[k] !== browser.adapter[k]) {
      out.push([true, `differs from native: ${k} is ${browser.adapter[k]} in the browser, ${native.adapter[k]} natively`]);
    }
  }
  const byName = new Map(browser.checks.map((c) => [c.name, c]));
  for (const n of native.checks) {
    const b = byName.get(n.name);
    if (!b) {
      const why = /Subgroup/.test(n.name) && !browser.adapter.subgroups ? "the browser's adapter has no subgroups" : null;
      out.push([why !== null, `${n.name}: not run in the browser${why ? " (" + why + "; the plan falls back as natively)" : ""}`]);
      continue;
    }
    if (!n.ok) out.push([false, `native: ${n.name} failed: ${n.detail}`]);
    if (n.values.length) out.push(agree(n, b));
  }
  return out;
}

function agree(n, b) {
  if (n.values.length !== b.values.length) {
    return [false, `${n.name}: ${b.values.length} values in the browser, ${n.values.length} natively`];
  }
  let worst = 0;
  n.values.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - b.values[i]) / (n.tolerances[i] + b.tolerances[i]));
  });
  return [worst <= 1, `${n.name}: the browser's trained parameters match the native run's (worst difference ${worst.toExponential(2)} of the tolerance)`];
}
