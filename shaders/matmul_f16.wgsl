// matmul_f16.wgsl: mixed precision. C = act(alpha * op(A) . op(B) + bias) + beta * C
// with A and B stored as f16, and casts between f32 and f16 tensors.
//
// Needs the adapter's shader-f16 feature (wgpu::Features::SHADER_F16).
//
// Precision: A and B are read as f16 and staged as f16 in workgroup memory
// (half the traffic and half the tile memory of the f32 kernel). Each
// product of two f16 values is exact in f32 (11-bit significands, 22-bit
// product), so the products are formed and summed in f32: the only roundings
// beyond the f32 kernel's are those of the operands to f16.
// The epilogue (bias, activation, beta) runs in f32; C is written as f32, or
// as f16 with OUT_F16 (an activation that feeds the next f16 matmul).
//
// op(A) is (M, K) and op(B) is (K, N); TRANS_A / TRANS_B pick the stored
// layouts as in matmul.wgsl.
//
// Bindings (group 0):
//   0 p     uniform  MatmulParams (as in matmul.wgsl; the prologue fields unused)
//   1 a     storage  read        (M*K) f16
//   2 b     storage  read        (K*N) f16
//   3 bias  storage  read        (N) f32, read only when p.use_bias != 0
//   4 c     storage  read_write  (M, N) f32, written unless OUT_F16
//   5 c16   storage  read_write  (M, N) f16, written with OUT_F16
//
// main: a 16x16 workgroup computes a 64x64 tile of C, 4x4 per invocation,
// K in slices of 16 staged as f16 (2 x 16 x 65 f16).
// Dispatch: (ceil(N / 64), ceil(M / 64), 1).
//
// to_f16 (x -> c16, clamped to +-65504, the largest finite f16) and
// to_f32 (a -> c): p.m elements; workgroup 64, dispatch ceil(p.m / 64)
// workgroups folded into 2-D (common.wgsl).

enable f16;

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
override OUT_F16: bool = false;

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f16>;
@group(0) @binding(2) var<storage, read> b: array<f16>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<storage, read_write> c16: array<f16>;

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;
const LDS: u32 = 65u;
const F16_MAX: f32 = 65504.0;

var<workgroup> tile_a: array<f16, 1040>; // [TK][LDS]
var<workgroup> tile_b: array<f16, 1040>; // [TK][LDS]

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
            var va = f16(0.0);
            if (gm < p.m && gka < p.k) {
                if (TRANS_A) {
                    va = a[gka * p.m + gm];
                } else {
                    va = a[gm * p.k + gka];
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
            var vb = f16(0.0);
            if (gn < p.n && gkb < p.k) {
                if (TRANS_B) {
                    vb = b[gn * p.k + gkb];
                } else {
                    vb = b[gkb * p.n + gn];
                }
            }
            tile_b[kb * LDS + nj] = vb;
        }
        workgroupBarrier();

        for (var kk = 0u; kk < TK; kk++) {
            var ra: array<f32, 4>;
            var rb: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                ra[i] = f32(tile_a[kk * LDS + lid.y + 16u * i]);
                rb[i] = f32(tile_b[kk * LDS + lid.x + 16u * i]);
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
            if (OUT_F16) {
                if (p.beta != 0.0) {
                    v += p.beta * f32(c16[o]);
                }
                c16[o] = f16(clamp(v, -F16_MAX, F16_MAX));
            } else {
                if (p.beta != 0.0) {
                    v += p.beta * c[o];
                }
                c[o] = v;
            }
        }
    }
}

@compute @workgroup_size(64)
fn to_f16(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.m) {
        return;
    }
    c16[i] = f16(clamp(c[i], -F16_MAX, F16_MAX));
}

@compute @workgroup_size(64)
fn to_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.m) {
        return;
    }
    c[i] = f32(a[i]);
}
