// matmul_wide.wgsl: the tiled matmul fed through vec4 registers, for GPUs
// ("tiled128v" and "tiled64v").
//
// This module is this file followed by matmul.wgsl, whose bindings (group 0:
// p, a, b, bias, c, gate, a4, b4), override constants (TRANS_A, TRANS_B,
// PRO_A, PRO_B, VEC4), prologue (load_a, load_a4, ...) and epilogue
// (bias_of, store_biased) it uses. It computes what `main` computes, bit for
// bit (each output is the chain of fmas in ascending k), and differs in how
// the tile is fed. The workgroup is WS x WS invocations (override WS: 16 for
// 128x128 tiles, 8 for 64x64 tiles), each holding an 8 x 8 block of C, so a
// tile is T = 8 WS wide and H = T / 2 = 4 WS is half of it:
// - Invocation (x, y) holds its block in 16 vec4 registers: rows 4y..4y+3
//   and H+4y..H+4y+3 of the tile, columns 4x..4x+3 and H+4x..H+4x+3. At each
//   k it reads its 8 values of A and 8 of B as four vec4 loads from
//   workgroup memory, where `main` issues 16 scalar loads for the same 64
//   FMAs; on GPUs, where loads from workgroup memory and FMAs share the
//   issue slots, that is the difference between a kernel bound by its loads
//   and one bound by its FMAs.
// - Workgroup memory holds a slice of 8 k of op(A) and of op(B), k-major and
//   unpadded (8 x T f32 each; 8 KiB together at T = 128), so the vec4 reads
//   are aligned. With WS = 16, the reads of A by a subgroup of 32 go to 2
//   addresses (broadcast) and those of B to 16 consecutive vec4s: no bank
//   conflicts.
// - A slice of A (and of B) is 2T groups of 4 elements that are contiguous
//   in the stored operand: 16 / WS per invocation (1 or 2), each read as one
//   vec4 with VEC4 (else as 4 scalars). The next slice is fetched into
//   registers before the current one is multiplied, so the global loads'
//   latency hides behind 512 FMAs per invocation, with one workgroup buffer.
// Edges are zero-filled, so any M, N, K is correct.
//
// Dispatch: (ceil(N / T), ceil(M / T), 1), workgroup WS x WS.

const WIDE_TK: u32 = 8u;
override WS: u32 = 16u;

// Room for the largest tile: 8 x 128 f32 = 256 vec4 each.
var<workgroup> wide_a: array<vec4<f32>, 256>; // [k][m / 4]: 8 x T / 4
var<workgroup> wide_b: array<vec4<f32>, 256>; // [k][n / 4]: 8 x T / 4

// The position (in op(A): row m, column k, relative to the tile) of the
// first of the 4 elements of group g of the slice (g < 2T).
fn wide_pos_a(g: u32) -> vec2<u32> {
    let q = 2u * WS; // vec4s per k of the slice: T / 4
    if (TRANS_A) {
        // A stored (K, M): 4 consecutive m at one k.
        return vec2<u32>((g % q) * 4u, g / q);
    }
    // A stored (M, K): 4 consecutive k at one m.
    return vec2<u32>(g / 2u, (g % 2u) * 4u);
}

// The same for B: (row k, column n) of op(B).
fn wide_pos_b(g: u32) -> vec2<u32> {
    let q = 2u * WS;
    if (TRANS_B) {
        // B stored (N, K): 4 consecutive k at one n.
        return vec2<u32>((g % 2u) * 4u, g / 2u);
    }
    // B stored (K, N): 4 consecutive n at one k.
    return vec2<u32>(g / q, (g % q) * 4u);
}

// The 4 elements of A of group g of the slice at k0, 0 past the edges.
fn wide_fetch_a(g: u32, row0: u32, k0: u32) -> vec4<f32> {
    let pos = wide_pos_a(g);
    let gm = row0 + pos.x;
    let gk = k0 + pos.y;
    var v = vec4<f32>(0.0);
    if (VEC4) {
        // The contiguous dimension is a multiple of 4: all 4 or none in range.
        if (gm < p.m && gk < p.k) {
            if (TRANS_A) {
                v = load_a4(gk * p.m + gm);
            } else {
                v = load_a4(gm * p.k + gk);
            }
        }
        return v;
    }
    for (var q = 0u; q < 4u; q++) {
        if (TRANS_A) {
            if (gm + q < p.m && gk < p.k) {
                v[q] = load_a(gk * p.m + gm + q);
            }
        } else if (gm < p.m && gk + q < p.k) {
            v[q] = load_a(gm * p.k + gk + q);
        }
    }
    return v;
}

fn wide_fetch_b(g: u32, col0: u32, k0: u32) -> vec4<f32> {
    let pos = wide_pos_b(g);
    let gk = k0 + pos.x;
    let gn = col0 + pos.y;
    var v = vec4<f32>(0.0);
    if (VEC4) {
        if (gn < p.n && gk < p.k) {
            if (TRANS_B) {
                v = load_b4(gn * p.k + gk);
            } else {
                v = load_b4(gk * p.n + gn);
            }
        }
        return v;
    }
    for (var q = 0u; q < 4u; q++) {
        if (TRANS_B) {
            if (gn < p.n && gk + q < p.k) {
                v[q] = load_b(gn * p.k + gk + q);
            }
        } else if (gn + q < p.n && gk < p.k) {
            v[q] = load_b(gk * p.n + gn + q);
        }
    }
    return v;
}

// Stores group g, as wide_fetch_a returned it, into wide_a ([k][m / 4]).
fn wide_put_a(g: u32, v: vec4<f32>) {
    if (TRANS_A) {
        // 4 consecutive m at one k: one vec4 of the slice, in place.
        wide_a[g] = v;
        return;
    }
    // 4 consecutive k at one m: one component in each of 4 rows.
    let pos = wide_pos_a(g);
    for (var q = 0u; q < 4u; q++) {
        wide_a[(pos.y + q) * 2u * WS + pos.x / 4u][pos.x % 4u] = v[q];
    }
}

fn wide_put_b(g: u32, v: vec4<f32>) {
    if (!TRANS_B) {
        wide_b[g] = v;
        return;
    }
    let pos = wide_pos_b(g);
    for (var q = 0u; q < 4u; q++) {
        wide_b[(pos.x + q) * 2u * WS + pos.y / 4u][pos.y % 4u] = v[q];
    }
}

@compute @workgroup_size(WS, WS, 1)
fn main_wide(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let t = 8u * WS; // the tile's side
    let h4 = 4u * WS; // half of it
    let q = 2u * WS; // vec4s per k of a slice
    let per = 16u / WS; // groups of 4 each invocation fetches per operand
    let nt = WS * WS;
    let row0 = wid.y * t;
    let col0 = wid.x * t;
    // acc[2 i + h]: row (i / 4) H + 4 lid.y + i % 4 of the tile,
    // columns h H + 4 lid.x .. + 3.
    var acc: array<vec4<f32>, 16>;
    for (var i = 0u; i < 16u; i++) {
        acc[i] = vec4<f32>(0.0);
    }

    let n_slices = (p.k + WIDE_TK - 1u) / WIDE_TK;
    var next_a: array<vec4<f32>, 2>;
    var next_b: array<vec4<f32>, 2>;
    for (var f = 0u; f < per; f++) {
        next_a[f] = wide_fetch_a(tid + f * nt, row0, 0u);
        next_b[f] = wide_fetch_b(tid + f * nt, col0, 0u);
    }
    for (var s = 0u; s < n_slices; s++) {
        for (var f = 0u; f < per; f++) {
            wide_put_a(tid + f * nt, next_a[f]);
            wide_put_b(tid + f * nt, next_b[f]);
        }
        workgroupBarrier();
        if (s + 1u < n_slices) {
            for (var f = 0u; f < per; f++) {
                next_a[f] = wide_fetch_a(tid + f * nt, row0, (s + 1u) * WIDE_TK);
                next_b[f] = wide_fetch_b(tid + f * nt, col0, (s + 1u) * WIDE_TK);
            }
        }
        for (var kk = 0u; kk < WIDE_TK; kk++) {
            let a_lo = wide_a[kk * q + lid.y];
            let a_hi = wide_a[kk * q + WS + lid.y];
            let b_lo = wide_b[kk * q + lid.x];
            let b_hi = wide_b[kk * q + WS + lid.x];
            for (var i = 0u; i < 4u; i++) {
                acc[2u * i] = fma(vec4<f32>(a_lo[i]), b_lo, acc[2u * i]);
                acc[2u * i + 1u] = fma(vec4<f32>(a_lo[i]), b_hi, acc[2u * i + 1u]);
                acc[2u * i + 8u] = fma(vec4<f32>(a_hi[i]), b_lo, acc[2u * i + 8u]);
                acc[2u * i + 9u] = fma(vec4<f32>(a_hi[i]), b_hi, acc[2u * i + 9u]);
            }
        }
        workgroupBarrier();
    }

    // Column by column, so that each column's bias is read once.
    for (var h = 0u; h < 2u; h++) {
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + h4 * h + 4u * lid.x + j;
            if (col >= p.n) {
                continue;
            }
            let b = bias_of(col);
            for (var i = 0u; i < 8u; i++) {
                let row = row0 + (i / 4u) * h4 + 4u * lid.y + i % 4u;
                if (row < p.m) {
                    store_biased(row, col, acc[2u * i + h][j], b);
                }
            }
        }
    }
}
