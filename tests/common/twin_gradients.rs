//! A model's f64 twin against central differences of its own loss: the
//! gradient of every trainable parameter, at a few entries each. Shared by
//! the test binaries of the model kinds whose twins compose layers
//! (residual blocks, sequence models).

use super::three_steps::{sgd, toy_data_of};
use wgae::plan::ParamLayout;
use wgae::reference::trainer::RefTrainer;
use wgae::ModelConfig;

/// The twin's gradient of every trainable parameter matches central
/// differences of its loss (f64: central differences good to ~1e-8).
pub fn check_gradients(name: &str, cfg: &ModelConfig) {
    let layout = ParamLayout::new(cfg, 1);
    let mut g = super::rng(11);
    let p0 = super::rand_vec(&mut g, layout.total, -0.6, 0.6);
    let tcfg = sgd(0.1);
    let mut t = RefTrainer::new(cfg, &tcfg, layout.clone(), &p0, 1);
    // Buffers at their starting values (running variance 1).
    for (i, v) in layout.buffer_inits(cfg) {
        let e = &layout.entries[i];
        t.params[e.offset..e.offset + e.len()].fill(f64::from(v));
    }
    let rows = 5;
    let x = toy_data_of(5, cfg.input_dim);
    let x: Vec<f32> = (0..rows).flat_map(|i| x.row(i).to_vec()).collect();
    let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let loss = |t: &RefTrainer| t.loss(&t.forward(&x, rows), &x64, rows).0;
    let f = t.forward(&x, rows);
    let (_, dz) = t.loss(&f, &x64, rows);
    let grads = t.backward(&f, dz, rows);
    let mut checked = 0;
    for (i, e) in layout.entries.iter().enumerate() {
        if layout.is_buffer(i) {
            continue;
        }
        for k in (0..e.len()).step_by(e.len().div_ceil(7)) {
            let at = e.offset + k;
            // Small: ReLUs after batch normalization put kinks close by.
            let h = 1e-7;
            let keep = t.params[at];
            t.params[at] = keep + h;
            let up = loss(&t);
            t.params[at] = keep - h;
            let down = loss(&t);
            t.params[at] = keep;
            let fd = (up - down) / (2.0 * h);
            let tol = 1e-6 + 1e-5 * fd.abs();
            assert!(
                (grads[at] - fd).abs() <= tol,
                "{name}: {}[{k}]: backward {} vs finite differences {fd}",
                e.name,
                grads[at]
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "{name}: only {checked} gradients checked");
}
