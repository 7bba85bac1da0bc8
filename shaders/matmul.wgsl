// matmul.wgsl: C = act(alpha * op(A) . op(B) + bias) + beta * C
//
// op(A) is (M, K) and op(B) is (K, N); the override constants pick the layout:
//   TRANS_A = false: A stored (M, K)     TRANS_A = true: A stored (K, M)
//   TRANS_B = false: B stored (K, N)     TRANS_B = true: B stored (N, K)
// so one file gives the three layouts backprop needs: A.B, A^T.B and A.B^T.
//
// Bindings (group 0):
//   0 p     uniform  MatmulParams
//   1 a     storage  read        (M*K) f32
//   2 b     storage  read        (K*N) f32
//   3 bias  storage  read        (N) f32, read only when p.use_bias != 0
//   4 c     storage  read_write  (M, N) f32, row-major; read only when beta != 0
//   5 gate  storage  read        stored like A (PRO_A) or like B (PRO_B)
//
// Prologue (the activation gradient of backprop, fused into the operand load):
// with PRO_A, every element of A is multiplied by f'(gate) as it is loaded,
// where f is p.pro_act and gate holds, element for element, what
// activate_derivative reads (the output y for sigmoid and tanh, the
// pre-activation z for gelu, either for relu); PRO_B does the same for B.
// So dz = da * f'(z) is never written to memory: the matmuls that consume it
// (dW = dz^T . x and dx = dz . W) read da and the gate instead.
//
// Tiling: a 16x16 workgroup computes a 64x64 tile of C; each invocation keeps a
// 4x4 block in registers, strided by 16 so that neighbouring invocations touch
// neighbouring addresses (coalesced global writes, conflict-free shared reads).
// K advances in slices of 16 staged through workgroup memory (2 x 16 x 65 f32,
// padded by one column against bank conflicts). Edges are zero-filled, so any
// M, N, K is correct.
//
// Dispatch: (ceil(N / 64), ceil(M / 64), 1).

struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    use_bias: u32,
    alpha: f32,
    beta: f32,
    act: u32,
    act_alpha: f32,
    pro_act: u32,
    pro_alpha: f32,
    _pad0: u32,
    _pad1: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override PRO_A: bool = false;
override PRO_B: bool = false;

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<storage, read> gate: array<f32>;

// The prologue factor f'(gate[i]) (see the header).
fn pro(i: u32) -> f32 {
    let g = gate[i];
    return activate_derivative(g, g, p.pro_act, p.pro_alpha);
}

fn load_a(i: u32) -> f32 {
    if (PRO_A) {
        return a[i] * pro(i);
    }
    return a[i];
}

fn load_b(i: u32) -> f32 {
    if (PRO_B) {
        return b[i] * pro(i);
    }
    return b[i];
}

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;
const LDS: u32 = 65u; // padded row length of the staged tiles

var<workgroup> tile_a: array<f32, 1040>; // [TK][LDS], tile_a[k * LDS + m]
var<workgroup> tile_b: array<f32, 1040>; // [TK][LDS], tile_b[k * LDS + n]

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let row0 = wid.y * TM;
    let col0 = wid.x * TN;
    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) {
        acc[i] = 0.0;
    }

    let n_slices = (p.k + TK - 1u) / TK;
    for (var s = 0u; s < n_slices; s++) {
        let k0 = s * TK;
        // Stage a 64x16 slice of op(A) and a 16x64 slice of op(B): 1024
        // elements each, 4 per invocation, walking the contiguous direction of
        // each stored layout across neighbouring invocations.
        for (var r = 0u; r < 4u; r++) {
            let idx = tid + 256u * r;
            var mi: u32;
            var ka: u32;
            if (TRANS_A) {
                mi = idx % TM;
                ka = idx / TM;
            } else {
                ka = idx % TK;
                mi = idx / TK;
            }
            let gm = row0 + mi;
            let gka = k0 + ka;
            var va = 0.0;
            if (gm < p.m && gka < p.k) {
                if (TRANS_A) {
                    va = load_a(gka * p.m + gm);
                } else {
                    va = load_a(gm * p.k + gka);
                }
            }
            tile_a[ka * LDS + mi] = va;

            var nj: u32;
            var kb: u32;
            if (TRANS_B) {
                kb = idx % TK;
                nj = idx / TK;
            } else {
                nj = idx % TN;
                kb = idx / TN;
            }
            let gn = col0 + nj;
            let gkb = k0 + kb;
            var vb = 0.0;
            if (gn < p.n && gkb < p.k) {
                if (TRANS_B) {
                    vb = load_b(gn * p.k + gkb);
                } else {
                    vb = load_b(gkb * p.n + gn);
                }
            }
            tile_b[kb * LDS + nj] = vb;
        }
        workgroupBarrier();

        for (var kk = 0u; kk < TK; kk++) {
            var ra: array<f32, 4>;
            var rb: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                ra[i] = tile_a[kk * LDS + lid.y + 16u * i];
                rb[i] = tile_b[kk * LDS + lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] = fma(ra[i], rb[j], acc[i * 4u + j]);
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let row = row0 + lid.y + 16u * i;
        if (row >= p.m) {
            continue;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + lid.x + 16u * j;
            if (col >= p.n) {
                continue;
            }
            var v = p.alpha * acc[i * 4u + j];
            if (p.use_bias != 0u) {
                v += bias[col];
            }
            v = activate(v, p.act, p.act_alpha);
            let o = row * p.n + col;
            if (p.beta != 0.0) {
                v += p.beta * c[o];
            }
            c[o] = v;
        }
    }
}

// main_direct: the same product without workgroup memory or barriers, for
// adapters that run invocations as SIMD lanes of a CPU (lavapipe, WARP).
// Neighbouring invocations take neighbouring output columns, so the loads of
// B are contiguous across lanes and those of A are the same for every lane;
// each invocation accumulates 8 rows of its column.
// Dispatch: (ceil(N / 64), ceil(M / 8), 1), workgroup 64.
@compute @workgroup_size(64, 1, 1)
fn main_direct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let col = wid.x * 64u + lid;
    let row0 = wid.y * 8u;
    if (col >= p.n) {
        return;
    }
    var acc: array<f32, 8>;
    for (var i = 0u; i < 8u; i++) {
        acc[i] = 0.0;
    }
    let last = p.m - 1u;
    for (var k = 0u; k < p.k; k++) {
        var bv: f32;
        if (TRANS_B) {
            bv = load_b(col * p.k + k);
        } else {
            bv = load_b(k * p.n + col);
        }
        for (var i = 0u; i < 8u; i++) {
            // Rows past the end read the last row; their results are not written.
            let row = min(row0 + i, last);
            var av: f32;
            if (TRANS_A) {
                av = load_a(k * p.m + row);
            } else {
                av = load_a(row * p.k + k);
            }
            acc[i] = fma(av, bv, acc[i]);
        }
    }
    for (var i = 0u; i < 8u; i++) {
        let row = row0 + i;
        if (row >= p.m) {
            break;
        }
        var v = p.alpha * acc[i];
        if (p.use_bias != 0u) {
            v += bias[col];
        }
        v = activate(v, p.act, p.act_alpha);
        let o = row * p.n + col;
        if (p.beta != 0.0) {
            v += p.beta * c[o];
        }
        c[o] = v;
    }
}
