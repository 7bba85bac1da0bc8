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
//   6 a4    storage  read        A as vec4<f32> (main with VEC4; else any 16 bytes)
//   7 b4    storage  read        B as vec4<f32> (main with VEC4; else any 16 bytes)
//
// Prologue (the activation gradient of backprop, fused into the operand load):
// with PRO_A, every element of A is multiplied by f'(gate) as it is loaded,
// where f is p.pro_act and gate holds, element for element, what
// activate_derivative reads (the output y for sigmoid and tanh, the
// pre-activation z for gelu, either for relu); PRO_B does the same for B.
// So dz = da * f'(z) is never written to memory: the matmuls that consume it
// (dW = dz^T . x and dx = dz . W) read da and the gate instead.
//
// Tiling (main): a WG_X x WG_Y workgroup computes a TM x TN tile of C, with
// TM = WG_Y * RM and TN = WG_X * RN; each invocation keeps an RM x RN block in
// registers, strided by WG_Y / WG_X so that neighbouring invocations touch
// neighbouring addresses (coalesced global writes, conflict-free shared reads).
// K advances in slices of TK staged through workgroup memory, each row padded
// by one element against bank conflicts. Edges are zero-filled, so any M, N, K
// is correct. The host picks one of three shapes per adapter and matmul (see
// `MatmulKernel` in src/kernels/matmul/mod.rs):
//   16x16:   WG 16x16, RM = RN = 1, TK = 16  (slices of 16 x 17 f32), for
//            small outputs: many workgroups, one output per invocation
//   64x64:   WG 16x16, RM = RN = 4, TK = 16  (slices of 16 x 65 f32)
//   128x128: WG 16x16, RM = RN = 8, TK = 8   (slices of 8 x 129 f32)
// All stage into the same two arrays of 1088 f32 (8.5 KB together).
// With VEC4 (the contiguous dimension of both stored operands a multiple of 4),
// the slices are read from global memory as vec4<f32> through bindings 6 and 7,
// which alias A and B.
//
// Dispatch: (ceil(N / TN), ceil(M / TM), 1).

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
// The epilogue's activation fixed when the pipeline is built (the id of
// common.wgsl's activate), or AT_RUN_TIME to read p.act. The subgroup
// kernel, which CPU adapters run, fixes it: lavapipe executes every case of a
// switch on a uniform value, masked, so a run-time choice cost it every
// activation's work on every output (a fifth of the instructions of a
// 256x784x32 product, BENCHMARKS.md).
override ACT: u32 = AT_RUN_TIME;
// Whether the epilogue may accumulate into C (beta != 0); the subgroup kernel
// sets it false where beta = 0 (nearly always), so C is never read (lavapipe
// would read it, masked, at every output).
override ACCUM: bool = true;

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<storage, read> gate: array<f32>;

// The epilogue: C[row, col] = act(alpha * acc + bias) + beta * C[row, col].
fn store(row: u32, col: u32, acc: f32) {
    store_biased(row, col, acc, bias_of(col));
}

// The bias of column col (0 without one, and then not added).
fn bias_of(col: u32) -> f32 {
    if (p.use_bias != 0u) {
        return bias[col];
    }
    return 0.0;
}

// The epilogue with column col's bias `b` read once for all its rows.
fn store_biased(row: u32, col: u32, acc: f32, b: f32) {
    var v = p.alpha * acc;
    if (p.use_bias != 0u) {
        v += b;
    }
    v = activate(v, fixed_or(ACT, p.act), p.act_alpha);
    let o = row * p.n + col;
    if (ACCUM && p.beta != 0.0) {
        v += p.beta * c[o];
    }
    c[o] = v;
}

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

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override RM: u32 = 4u;
override RN: u32 = 4u;
override TK: u32 = 16u;
override VEC4: bool = false;
// Invocations per workgroup of the direct kernels. main_direct: 64, or 32
// for outputs at most 32 wide, where half of a 64-wide workgroup would idle
// (one column each); matmul_subgroup.wgsl: 8 (four columns each).
override DW: u32 = 64u;

@group(0) @binding(6) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> b4: array<vec4<f32>>;

// Room for the larger of the two tile shapes: TK * (TM + 1) <= 1088.
var<workgroup> tile_a: array<f32, 1088>; // [TK][TM + 1], tile_a[k * lda + m]
var<workgroup> tile_b: array<f32, 1088>; // [TK][TN + 1], tile_b[k * ldb + n]

// Four consecutive elements of A from flat index i (a multiple of 4), with
// the prologue applied.
fn load_a4(i: u32) -> vec4<f32> {
    var v = a4[i / 4u];
    if (PRO_A) {
        v *= vec4<f32>(pro(i), pro(i + 1u), pro(i + 2u), pro(i + 3u));
    }
    return v;
}

fn load_b4(i: u32) -> vec4<f32> {
    var v = b4[i / 4u];
    if (PRO_B) {
        v *= vec4<f32>(pro(i), pro(i + 1u), pro(i + 2u), pro(i + 3u));
    }
    return v;
}

// Stages the TM x TK slice of op(A) starting at column k0 into tile_a.
fn stage_a(tid: u32, row0: u32, k0: u32) {
    let tm = WG_Y * RM;
    let lda = tm + 1u;
    let nt = WG_X * WG_Y;
    if (VEC4) {
        // Each invocation reads vec4s along the stored contiguous direction.
        let count = tm * TK / 4u;
        for (var idx = tid; idx < count; idx += nt) {
            if (TRANS_A) {
                // A stored (K, M): 4 consecutive m at one k.
                let per_row = tm / 4u;
                let m4 = (idx % per_row) * 4u;
                let ka = idx / per_row;
                let gm = row0 + m4;
                let gk = k0 + ka;
                var v = vec4<f32>(0.0);
                if (gm < p.m && gk < p.k) {
                    v = load_a4(gk * p.m + gm);
                }
                for (var q = 0u; q < 4u; q++) {
                    tile_a[ka * lda + m4 + q] = v[q];
                }
            } else {
                // A stored (M, K): 4 consecutive k at one m.
                let per_row = TK / 4u;
                let k4 = (idx % per_row) * 4u;
                let mi = idx / per_row;
                let gm = row0 + mi;
                let gk = k0 + k4;
                var v = vec4<f32>(0.0);
                if (gm < p.m && gk < p.k) {
                    v = load_a4(gm * p.k + gk);
                }
                for (var q = 0u; q < 4u; q++) {
                    tile_a[(k4 + q) * lda + mi] = v[q];
                }
            }
        }
        return;
    }
    let count = tm * TK;
    for (var idx = tid; idx < count; idx += nt) {
        var mi: u32;
        var ka: u32;
        if (TRANS_A) {
            mi = idx % tm;
            ka = idx / tm;
        } else {
            ka = idx % TK;
            mi = idx / TK;
        }
        let gm = row0 + mi;
        let gk = k0 + ka;
        var v = 0.0;
        if (gm < p.m && gk < p.k) {
            if (TRANS_A) {
                v = load_a(gk * p.m + gm);
            } else {
                v = load_a(gm * p.k + gk);
            }
        }
        tile_a[ka * lda + mi] = v;
    }
}

// Stages the TK x TN slice of op(B) starting at row k0 into tile_b.
fn stage_b(tid: u32, col0: u32, k0: u32) {
    let tn = WG_X * RN;
    let ldb = tn + 1u;
    let nt = WG_X * WG_Y;
    if (VEC4) {
        let count = tn * TK / 4u;
        for (var idx = tid; idx < count; idx += nt) {
            if (TRANS_B) {
                // B stored (N, K): 4 consecutive k at one n.
                let per_row = TK / 4u;
                let k4 = (idx % per_row) * 4u;
                let nj = idx / per_row;
                let gn = col0 + nj;
                let gk = k0 + k4;
                var v = vec4<f32>(0.0);
                if (gn < p.n && gk < p.k) {
                    v = load_b4(gn * p.k + gk);
                }
                for (var q = 0u; q < 4u; q++) {
                    tile_b[(k4 + q) * ldb + nj] = v[q];
                }
            } else {
                // B stored (K, N): 4 consecutive n at one k.
                let per_row = tn / 4u;
                let n4 = (idx % per_row) * 4u;
                let kb = idx / per_row;
                let gn = col0 + n4;
                let gk = k0 + kb;
                var v = vec4<f32>(0.0);
                if (gn < p.n && gk < p.k) {
                    v = load_b4(gk * p.n + gn);
                }
                for (var q = 0u; q < 4u; q++) {
                    tile_b[kb * ldb + n4 + q] = v[q];
                }
            }
        }
        return;
    }
    let count = tn * TK;
    for (var idx = tid; idx < count; idx += nt) {
        var nj: u32;
        var kb: u32;
        if (TRANS_B) {
            kb = idx % TK;
            nj = idx / TK;
        } else {
            nj = idx % tn;
            kb = idx / tn;
        }
        let gn = col0 + nj;
        let gk = k0 + kb;
        var v = 0.0;
        if (gn < p.n && gk < p.k) {
            if (TRANS_B) {
                v = load_b(gn * p.k + gk);
            } else {
                v = load_b(gk * p.n + gn);
            }
        }
        tile_b[kb * ldb + nj] = v;
    }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let tm = WG_Y * RM;
    let tn = WG_X * RN;
    let lda = tm + 1u;
    let ldb = tn + 1u;
    let row0 = wid.y * tm;
    let col0 = wid.x * tn;
    var acc: array<f32, 64>; // RM * RN <= 64 used
    for (var i = 0u; i < RM * RN; i++) {
        acc[i] = 0.0;
    }

    let n_slices = (p.k + TK - 1u) / TK;
    for (var s = 0u; s < n_slices; s++) {
        let k0 = s * TK;
        stage_a(tid, row0, k0);
        stage_b(tid, col0, k0);
        workgroupBarrier();

        for (var kk = 0u; kk < TK; kk++) {
            var ra: array<f32, 8>;
            var rb: array<f32, 8>;
            for (var i = 0u; i < RM; i++) {
                ra[i] = tile_a[kk * lda + lid.y + WG_Y * i];
            }
            for (var j = 0u; j < RN; j++) {
                rb[j] = tile_b[kk * ldb + lid.x + WG_X * j];
            }
            for (var i = 0u; i < RM; i++) {
                for (var j = 0u; j < RN; j++) {
                    acc[i * RN + j] = fma(ra[i], rb[j], acc[i * RN + j]);
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < RM; i++) {
        let row = row0 + lid.y + WG_Y * i;
        if (row >= p.m) {
            continue;
        }
        for (var j = 0u; j < RN; j++) {
            let col = col0 + lid.x + WG_X * j;
            if (col >= p.n) {
                continue;
            }
            store(row, col, acc[i * RN + j]);
        }
    }
}

// main_direct: the same product without workgroup memory or barriers, for
// adapters that run invocations as SIMD lanes of a CPU (lavapipe, WARP).
// Neighbouring invocations take neighbouring output columns, so the loads of
// B are contiguous across lanes and those of A are the same for every lane;
// each invocation accumulates 8 rows of its column.
// Dispatch: (ceil(N / DW), ceil(M / 8), 1), workgroup DW (64, or 32 when N <= 32).
@compute @workgroup_size(DW, 1, 1)
fn main_direct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let col = wid.x * DW + lid;
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
    let b = bias_of(col);
    for (var i = 0u; i < 8u; i++) {
        let row = row0 + i;
        if (row >= p.m) {
            break;
        }
        store_biased(row, col, acc[i], b);
    }
}
