// sparse.wgsl: a batch of dense rows gathered from sparse rows (CSR) held
// on the GPU, for a rating matrix that stays as its ratings.
//
// A cell with no entry is written as p.absent: MISSING (-3.4028235e38,
// masked.wgsl's mark of a missing entry, which the unmask step then reads)
// for ratings, 0 for implicit interactions.
//
// Bindings (group 0):
//   0 p        uniform  SparseParams { rows, cols, first, absent }
//   1 order    storage  read        the row order; batch row j is row order[first + j]
//   2 offsets  storage  read        (src_rows + 1): row r's entries are offsets[r]..offsets[r+1]
//   3 columns  storage  read        (entries): each entry's column, increasing within a row
//   4 values   storage  read        (entries): each entry's value
//   5 out      storage  read_write  (rows, cols): the dense batch
//
// Entry point:
//   gather_sparse  One workgroup of 64 per batch row (dispatch folded over
//                  rows): the row is filled with `absent`, then, after a
//                  storage barrier, its entries are written over it. Every
//                  cell is written, so nothing of an earlier batch remains.

struct SparseParams {
    rows: u32,
    cols: u32,
    first: u32,
    absent: f32,
}

@group(0) @binding(0) var<uniform> p: SparseParams;
@group(0) @binding(1) var<storage, read> order: array<u32>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read> columns: array<u32>;
@group(0) @binding(4) var<storage, read> values: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn gather_sparse(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let j = flat_workgroup(wid, nwg);
    // Uniform across the workgroup: the barrier below stays in uniform
    // control flow.
    if (j >= p.rows) {
        return;
    }
    let base = j * p.cols;
    for (var c = lid; c < p.cols; c += 64u) {
        out[base + c] = p.absent;
    }
    storageBarrier();
    let r = order[p.first + j];
    let end = offsets[r + 1u];
    for (var k = offsets[r] + lid; k < end; k += 64u) {
        out[base + columns[k]] = values[k];
    }
}
