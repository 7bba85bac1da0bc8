// matmul_subgroup.wgsl: the direct matmul with A shared through subgroup
// shuffles, for CPU adapters with subgroups of at least 8 lanes (lavapipe).
//
// This module is this file followed by matmul.wgsl, whose bindings (group 0:
// p, a, b, bias, c, gate), override constants (TRANS_A, TRANS_B, PRO_A, PRO_B),
// prologue and epilogue it uses. It needs wgpu::Features::SUBGROUP, so it is
// kept apart from matmul.wgsl, which must build on every adapter.
//
// main_direct_subgroup computes what main_direct does with two changes that
// suit CPU adapters, where the invocations of a subgroup are the lanes of one
// SIMD register and every load, shuffle and FMA costs one instruction (or a
// few) for all of them:
// - A is shared through subgroup shuffles. Each invocation accumulates 8 rows
//   of C; at each k, lane l of a subgroup loads the element of A in row l % 8
//   of the 8, and subgroupShuffle(av, i) hands row i to every lane: one load
//   of A per lane instead of eight.
// - Each invocation accumulates 4 columns (DW apart, so that neighbouring
//   invocations still take neighbouring columns) as one vec4: a shuffled
//   element of A meets 4 elements of B in one vec4 FMA: 4 FMAs per shuffle
//   instead of 1. On lavapipe that is a third fewer instructions per matmul
//   than with 1 column per invocation, and 1.2-2x faster (BENCHMARKS.md).
// vec4 fma is fma on each component, so every output is still the chain of
// fmas in ascending k that every matmul kernel computes (the same bits).
//
// No invocation returns early, so that every lane takes part in every
// shuffle: a row past M loads the last row, a column past N the last column,
// and neither is written.
//
// Dispatch: (ceil(N / (4 DW)), ceil(M / 8), 1), workgroup DW = 8 (32 columns):
// one SIMD group on lavapipe, as cheap per column as wider workgroups and
// with less waste past the last column.

// Element (row, k) of op(A), and (k, col) of op(B), with the prologue, each
// clamped to the last row or column.
fn load_op_a(row: u32, k: u32) -> f32 {
    let r = min(row, p.m - 1u);
    if (TRANS_A) {
        return load_a(k * p.m + r);
    }
    return load_a(r * p.k + k);
}

fn load_op_b(k: u32, col: u32) -> f32 {
    let cc = min(col, p.n - 1u);
    if (TRANS_B) {
        return load_b(cc * p.k + k);
    }
    return load_b(k * p.n + cc);
}

@compute @workgroup_size(DW, 1, 1)
fn main_direct_subgroup(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    // This invocation's columns: col, col + DW, col + 2 DW, col + 3 DW.
    let col = wid.x * DW * 4u + lid;
    let row0 = wid.y * 8u;
    let my_row = row0 + lane % 8u;
    // acc[i][j]: row row0 + i, column col + j DW.
    var acc: array<vec4<f32>, 8>;
    for (var i = 0u; i < 8u; i++) {
        acc[i] = vec4<f32>(0.0);
    }
    for (var k = 0u; k < p.k; k++) {
        let av = load_op_a(my_row, k);
        let bv = vec4<f32>(
            load_op_b(k, col),
            load_op_b(k, col + DW),
            load_op_b(k, col + 2u * DW),
            load_op_b(k, col + 3u * DW),
        );
        for (var i = 0u; i < 8u; i++) {
            acc[i] = fma(vec4<f32>(subgroupShuffle(av, i)), bv, acc[i]);
        }
    }
    for (var j = 0u; j < 4u; j++) {
        let cj = col + j * DW;
        if (cj >= p.n) {
            break;
        }
        let b = bias_of(cj);
        for (var i = 0u; i < 8u; i++) {
            let row = row0 + i;
            if (row >= p.m) {
                break;
            }
            store_biased(row, cj, acc[i][j], b);
        }
    }
}
