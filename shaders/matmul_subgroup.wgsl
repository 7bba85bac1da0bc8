// matmul_subgroup.wgsl: the direct matmul with A shared through subgroup
// shuffles, for CPU adapters with subgroups of at least 8 lanes (lavapipe).
//
// This module is this file followed by matmul.wgsl, whose bindings (group 0:
// p, a, b, bias, c, gate), override constants (TRANS_A, TRANS_B, PRO_A, PRO_B),
// prologue and epilogue it uses. It needs wgpu::Features::SUBGROUP, so it is
// kept apart from matmul.wgsl, which must build on every adapter.
//
// main_direct_subgroup computes what main_direct does: each invocation
// accumulates 8 rows of one column of C, neighbouring invocations taking
// neighbouring columns. In main_direct every lane loads the same 8 elements
// of A (and, with PRO_A, evaluates the same 8 prologue factors) at each k.
// Here lane l of each subgroup loads only row l % 8, and the lanes trade the
// 8 values with subgroupShuffle: one load instead of eight. No invocation
// returns early, so that every lane takes part in every shuffle; a column past
// N computes on the last column and writes nothing.
//
// Dispatch: (ceil(N / DW), ceil(M / 8), 1), workgroup DW (matmul.wgsl: 64, or 32
// when N <= 32).

@compute @workgroup_size(DW, 1, 1)
fn main_direct_subgroup(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let col = wid.x * DW + lid;
    let colc = min(col, p.n - 1u);
    let row0 = wid.y * 8u;
    // Rows past the end read the last row; their results are not written.
    let my_row = min(row0 + lane % 8u, p.m - 1u);
    var acc: array<f32, 8>;
    for (var i = 0u; i < 8u; i++) {
        acc[i] = 0.0;
    }
    for (var k = 0u; k < p.k; k++) {
        var bv: f32;
        if (TRANS_B) {
            bv = load_b(colc * p.k + k);
        } else {
            bv = load_b(k * p.n + colc);
        }
        var av: f32;
        if (TRANS_A) {
            av = load_a(k * p.m + my_row);
        } else {
            av = load_a(my_row * p.k + k);
        }
        for (var i = 0u; i < 8u; i++) {
            acc[i] = fma(subgroupShuffle(av, i), bv, acc[i]);
        }
    }
    if (col >= p.n) {
        return;
    }
    for (var i = 0u; i < 8u; i++) {
        let row = row0 + i;
        if (row >= p.m) {
            break;
        }
        store(row, col, acc[i]);
    }
}
