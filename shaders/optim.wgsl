// optim.wgsl: optimizer updates over a whole parameter arena in one dispatch,
// with the step counter, learning-rate schedule and gradient clipping kept on
// the GPU so that a training step writes nothing from the host.
//
// Bindings (group 0):
//   0 p      uniform  OptimParams (hyper-parameters, fixed for a run)
//   1 state  storage  read_write  OptState (t, lr_t, bias corrections, grad
//                                 scale, and lr_factor: a multiplier of the
//                                 scheduled rate that the host sets when it
//                                 halves the rate after a divergence; 0, as
//                                 the state starts, means 1)
//   2 gsq    storage  read        (1+) f32: gsq[0] = sum of squared gradients,
//                                 read by tick when clip_norm > 0
//   3 param  storage  read_write  (n) f32
//   4 grad   storage  read        (n) f32
//   5 m      storage  read_write  (n) f32: first moment / momentum buffer
//   6 v      storage  read_write  (n) f32: second moment / RMSprop square average
//   7-10     param, grad, m, v as vec4<f32> (update4 only)
//
// Entry points:
//   tick    one invocation: t += 1, then lr_t from the schedule, the Adam bias
//           corrections 1 - beta^t, and the clipping factor min(1, clip / ||g||).
//           Dispatch (1, 1, 1) before update.
//   update  workgroup 64, ceil(n / 64) workgroups folded into 2-D. With
//           g = grad * grad_scale:
//     kind 0 SGD       g += wd p;  p -= lr g
//     kind 1 momentum  g += wd p;  m = mu m + g;  p -= lr (nesterov ? g + mu m : m)
//     kind 2 Adam      g += wd p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//                      p -= lr (m / bc1) / (sqrt(v / bc2) + eps)
//     kind 3 AdamW     Adam moments on g;  p -= lr ((m / bc1) / (sqrt(v / bc2) + eps) + wd p)
//     kind 4 RMSprop   g += wd p;  v = a v + (1-a) g^2;  p -= lr g / (sqrt(v) + eps)
//   (mu and a are beta1 and beta2; the formulas are PyTorch's.)
//   update4 the same four parameters per invocation, for n a multiple of 4
//           (bindings 7-10 alias 3-6): a quarter of the invocations and of
//           the loads and stores. Dispatch ceil(n / 256) workgroups of 64.
//   Both compute each parameter with the same operations (step4), so they
//   give the same bits.
//
// Schedules (p.schedule), at step t >= 1:
//   0 constant  lr
//   1 step      lr * gamma^floor((t - 1) / step_size)
//   2 cosine    min_lr + (lr - min_lr) (1 + cos(pi min(t - 1, total) / total)) / 2
//   and warm-up on top of any: for t <= warmup, lr_t *= t / warmup.

struct OptimParams {
    n: u32,
    kind: u32,
    nesterov: u32,
    schedule: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    clip_norm: f32,
    warmup: u32,
    total_steps: u32,
    step_size: u32,
    gamma: f32,
    min_lr: f32,
    _pad: u32,
}

struct OptState {
    t: u32,
    lr: f32,
    bc1: f32,
    bc2: f32,
    grad_scale: f32,
    grad_norm: f32,
    lr_factor: f32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: OptimParams;
@group(0) @binding(1) var<storage, read_write> state: OptState;
@group(0) @binding(2) var<storage, read> gsq: array<f32>;
@group(0) @binding(3) var<storage, read_write> param: array<f32>;
@group(0) @binding(4) var<storage, read> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> m: array<f32>;
@group(0) @binding(6) var<storage, read_write> v: array<f32>;

const PI: f32 = 3.141592653589793;

@compute @workgroup_size(1)
fn tick() {
    let t = state.t + 1u;
    state.t = t;
    let tf = f32(t);
    var lr = p.lr;
    switch p.schedule {
        case 1u: {
            lr = p.lr * pow(p.gamma, f32((t - 1u) / max(p.step_size, 1u)));
        }
        case 2u: {
            let total = max(p.total_steps, 1u);
            let progress = f32(min(t - 1u, total)) / f32(total);
            lr = p.min_lr + (p.lr - p.min_lr) * 0.5 * (1.0 + cos(PI * progress));
        }
        default: {}
    }
    if (p.warmup > 0u && t <= p.warmup) {
        lr *= tf / f32(p.warmup);
    }
    if (state.lr_factor > 0.0) {
        lr *= state.lr_factor;
    }
    state.lr = lr;
    // pow(beta, t) underflows to 0 for large t, leaving the corrections at 1.
    state.bc1 = 1.0 - pow(p.beta1, tf);
    state.bc2 = 1.0 - pow(p.beta2, tf);
    var scale = 1.0;
    var norm = 0.0;
    if (p.clip_norm > 0.0) {
        norm = sqrt(gsq[0]);
        if (norm > p.clip_norm) {
            scale = p.clip_norm / (norm + 1e-6);
        }
    }
    state.grad_norm = norm;
    state.grad_scale = scale;
}

@group(0) @binding(7) var<storage, read_write> param4: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read> grad4: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(10) var<storage, read_write> v4: array<vec4<f32>>;

// The optimizer of update and update4, fixed when the pipeline is built (the
// host always does), or AT_RUN_TIME to read p.kind. CPU adapters such as
// lavapipe execute every case of a switch on a uniform value, masked, so a
// run-time choice cost them every optimizer's work on every parameter.
override KIND: u32 = AT_RUN_TIME;

fn kind() -> u32 {
    return fixed_or(KIND, p.kind);
}

// Which moments the optimizer keeps (the others are neither read nor written:
// their bindings may be any tensor of the right length).
fn uses_m() -> bool {
    let k = kind();
    return k == 1u || k == 2u || k == 3u;
}

fn uses_v() -> bool {
    let k = kind();
    return k == 2u || k == 3u || k == 4u;
}

// The updated parameters and moments of four parameters.
struct Step4 {
    w: vec4<f32>,
    m: vec4<f32>,
    v: vec4<f32>,
}

// One step of four parameters w with gradients g0 and moments m0, v0.
fn step4(w0: vec4<f32>, g0: vec4<f32>, m0: vec4<f32>, v0: vec4<f32>) -> Step4 {
    let lr = state.lr;
    var w = w0;
    var g = g0 * state.grad_scale;
    var mi = m0;
    var vi = v0;
    let k = kind();
    switch k {
        case 1u: {
            g += p.weight_decay * w;
            mi = p.beta1 * mi + g;
            if (p.nesterov != 0u) {
                w -= lr * (g + p.beta1 * mi);
            } else {
                w -= lr * mi;
            }
        }
        case 2u, 3u: {
            if (k == 2u) {
                g += p.weight_decay * w;
            }
            mi = p.beta1 * mi + (1.0 - p.beta1) * g;
            vi = p.beta2 * vi + (1.0 - p.beta2) * g * g;
            var step = (mi / state.bc1) / (sqrt(vi / state.bc2) + p.eps);
            if (k == 3u) {
                step += p.weight_decay * w;
            }
            w -= lr * step;
        }
        case 4u: {
            g += p.weight_decay * w;
            vi = p.beta2 * vi + (1.0 - p.beta2) * g * g;
            w -= lr * g / (sqrt(vi) + p.eps);
        }
        default: {
            g += p.weight_decay * w;
            w -= lr * g;
        }
    }
    return Step4(w, mi, vi);
}

@compute @workgroup_size(64)
fn update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n) {
        return;
    }
    var m0 = 0.0;
    var v0 = 0.0;
    if (uses_m()) {
        m0 = m[i];
    }
    if (uses_v()) {
        v0 = v[i];
    }
    let r = step4(vec4<f32>(param[i]), vec4<f32>(grad[i]), vec4<f32>(m0), vec4<f32>(v0));
    if (uses_m()) {
        m[i] = r.m.x;
    }
    if (uses_v()) {
        v[i] = r.v.x;
    }
    param[i] = r.w.x;
}

@compute @workgroup_size(64)
fn update4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.n / 4u) {
        return;
    }
    var m0 = vec4<f32>(0.0);
    var v0 = vec4<f32>(0.0);
    if (uses_m()) {
        m0 = m4[i];
    }
    if (uses_v()) {
        v0 = v4[i];
    }
    let r = step4(param4[i], grad4[i], m0, v0);
    if (uses_m()) {
        m4[i] = r.m;
    }
    if (uses_v()) {
        v4[i] = r.v;
    }
    param4[i] = r.w;
}
