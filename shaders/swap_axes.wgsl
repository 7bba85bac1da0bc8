// swap_axes.wgsl: each sample's two axes swapped, (a, b) -> (b, a): the
// `permute` layer between a Conv1d, which reads (channels, length), and a
// recurrent layer, which reads (steps, features) (PyTorch's x.permute(0, 2, 1)).
// Its gradient is the same swap the other way.
//
// Bindings (group 0):
//   0 p    uniform  SwapParams { rows, a, b }
//   1 x    storage  read        (rows, a, b)
//   2 out  storage  read_write  (rows, b, a)
//
// Entry point swap_axes: out[r, j, i] = x[r, i, j], one output value per
// invocation (reads strided, writes in order); workgroup 64, dispatch
// ceil(rows * a * b / 64) workgroups folded into 2-D.

struct SwapParams {
    rows: u32,
    a: u32,
    b: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: SwapParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn swap_axes(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let k = flat_workgroup(wid, nwg) * 64u + lid;
    let per = p.a * p.b;
    if (k >= p.rows * per) {
        return;
    }
    let r = k / per;
    let o = k % per;
    let j = o / p.a;
    let i = o % p.a;
    out[k] = x[r * per + i * p.b + j];
}
