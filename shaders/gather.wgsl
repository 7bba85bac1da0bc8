// gather.wgsl: gather rows of a resident dataset by an index buffer, so a
// shuffled mini-batch is assembled on the GPU.
//
// Bindings (group 0):
//   0 p    uniform  GatherParams { rows, cols, idx_offset, src_rows, chunk_rows,
//                   lut_cols, stride, channels, win_len, channels_first }
//   1 idx  storage  read        (idx_offset + rows) u32 row indices into src
//   2 src  storage  read        (src_rows, cols) f32
//   3 out  storage  read_write  (rows, cols) f32
//   4 src4 storage  read        src as vec4<f32> (gather_rows4 only)
//   5 out4 storage  read_write  out as vec4<f32> (gather_rows4 only)
//   6..9 chunk0..chunk3  storage read  a dataset too large for one binding,
//                   as up to four buffers of chunk_rows whole rows each
//                   (gather_chunks only; unused ones alias chunk0)
//   10..13 bytes0..bytes3 storage read  the same for a dataset stored as
//                   unsigned bytes, four to a little-endian u32 word (gather_u8)
//   14 lut  storage read   each byte's f32 value: 256 entries shared by all
//                   columns (p.lut_cols = 0), or 256 per column (lut_cols = cols)
//
// Entry point gather_rows: out[r, c] = src[idx[idx_offset + r], c]; an index
// past src_rows gives a zero row rather than reading out of bounds (the host
// validates indices; this only keeps a bad one harmless).
// Workgroup 64; dispatch ceil(rows * cols / 64) workgroups folded into 2-D.
// gather_rows4 does the same four columns at a time, for cols a multiple of
// 4 (bindings 4 and 5 alias src and out): a quarter of the invocations, index
// lookups and loads; dispatch ceil(rows * cols / 256).
// gather_chunks reads row s from chunk s / chunk_rows at row s % chunk_rows:
// the same values as gather_rows over the rows laid end to end.
// gather_u8 reads byte b of the same place in bytes0..3 and writes lut[b]
// (lut[c * 256 + b] per column): images stay u8 on the GPU, a quarter of the
// memory and bandwidth, and the host computes the table with the loaders'
// own arithmetic (b / 255, then the column's transform), so the values are
// the same bits as the f32 path's.
// gather_windows cuts windows out of one series held in chunks (windows
// gather_windows' own): window s of chunk k = s / chunk_rows starts at the
// chunk's time step (s % chunk_rows) * stride; value c of a window is step
// t, channel f of it (t = c / channels, f = c % channels for the time
// layout; t = c % win_len, f = c / win_len channels first), read from
// chunk[(start + t) * channels + f]. A series is uploaded once, not once
// per window that covers a step.

struct GatherParams {
    rows: u32,
    cols: u32,
    idx_offset: u32,
    src_rows: u32,
    chunk_rows: u32,
    lut_cols: u32,
    stride: u32,
    channels: u32,
    win_len: u32,
    channels_first: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: GatherParams;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn gather_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * p.cols) {
        return;
    }
    let r = i / p.cols;
    let c = i % p.cols;
    let s = idx[p.idx_offset + r];
    var v = 0.0;
    if (s < p.src_rows) {
        v = src[s * p.cols + c];
    }
    out[i] = v;
}

@group(0) @binding(4) var<storage, read> src4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out4: array<vec4<f32>>;

@compute @workgroup_size(64)
fn gather_rows4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let cols4 = p.cols / 4u;
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * cols4) {
        return;
    }
    let r = i / cols4;
    let c = i % cols4;
    let s = idx[p.idx_offset + r];
    var v = vec4<f32>(0.0);
    if (s < p.src_rows) {
        v = src4[s * cols4 + c];
    }
    out4[i] = v;
}

@group(0) @binding(6) var<storage, read> chunk0: array<f32>;
@group(0) @binding(7) var<storage, read> chunk1: array<f32>;
@group(0) @binding(8) var<storage, read> chunk2: array<f32>;
@group(0) @binding(9) var<storage, read> chunk3: array<f32>;

// Value `at` of chunk `k`.
fn chunk_value(k: u32, at: u32) -> f32 {
    switch k {
        case 0u: { return chunk0[at]; }
        case 1u: { return chunk1[at]; }
        case 2u: { return chunk2[at]; }
        default: { return chunk3[at]; }
    }
}

@compute @workgroup_size(64)
fn gather_chunks(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * p.cols) {
        return;
    }
    let r = i / p.cols;
    let c = i % p.cols;
    let s = idx[p.idx_offset + r];
    var v = 0.0;
    if (s < p.src_rows) {
        let k = s / p.chunk_rows;
        v = chunk_value(k, (s - k * p.chunk_rows) * p.cols + c);
    }
    out[i] = v;
}

@group(0) @binding(10) var<storage, read> bytes0: array<u32>;
@group(0) @binding(11) var<storage, read> bytes1: array<u32>;
@group(0) @binding(12) var<storage, read> bytes2: array<u32>;
@group(0) @binding(13) var<storage, read> bytes3: array<u32>;
@group(0) @binding(14) var<storage, read> lut: array<f32>;

@compute @workgroup_size(64)
fn gather_u8(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * p.cols) {
        return;
    }
    let r = i / p.cols;
    let c = i % p.cols;
    let s = idx[p.idx_offset + r];
    var v = 0.0;
    if (s < p.src_rows) {
        let k = s / p.chunk_rows;
        let at = (s - k * p.chunk_rows) * p.cols + c;
        var word = 0u;
        switch k {
            case 0u: { word = bytes0[at / 4u]; }
            case 1u: { word = bytes1[at / 4u]; }
            case 2u: { word = bytes2[at / 4u]; }
            default: { word = bytes3[at / 4u]; }
        }
        let b = (word >> (8u * (at % 4u))) & 255u;
        v = lut[select(b, c * 256u + b, p.lut_cols != 0u)];
    }
    out[i] = v;
}

@compute @workgroup_size(64)
fn gather_windows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * 64u + lid;
    if (i >= p.rows * p.cols) {
        return;
    }
    let r = i / p.cols;
    let c = i % p.cols;
    let s = idx[p.idx_offset + r];
    var v = 0.0;
    if (s < p.src_rows) {
        let k = s / p.chunk_rows;
        var t = c / p.channels;
        var f = c % p.channels;
        if (p.channels_first != 0u) {
            t = c % p.win_len;
            f = c / p.win_len;
        }
        v = chunk_value(k, ((s - k * p.chunk_rows) * p.stride + t) * p.channels + f);
    }
    out[i] = v;
}
