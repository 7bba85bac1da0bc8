//! Mixed precision (f16 storage, f32 products and sums) against the f64
//! reference on the same f16-rounded inputs, and the casts between f32 and
//! f16. Adapters without shader-f16 must refuse with a clear error; in CI
//! (lavapipe has shader-f16) its absence is a failure.

mod common;

use common::{assert_close, gpu, rand_vec, rng, U};
use wgae::kernels::{self as ops, MatmulOut, MatmulSpec};
use wgae::reference as r;
use wgae::{Activation, Autoencoder, Dataset, GpuContext, LossKind, ModelConfig, Precision};

/// f16 unit roundoff.
const U16: f64 = 1.0 / 2048.0;

fn f16_ctx() -> Option<&'static GpuContext> {
    let ctx = gpu()?;
    if ctx.has_f16() {
        return Some(ctx);
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !in_ci,
        "CI's adapter '{}' should have shader-f16",
        ctx.adapter_name()
    );
    // Outside CI, an adapter without f16 must refuse clearly.
    let t = ctx.zeros("t", 8).unwrap();
    let err = ops::to_f16(ctx, 4, &t, &t).unwrap_err().to_string();
    assert!(err.contains("shader-f16"), "{err}");
    eprintln!(
        "NOTE: adapter '{}' has no shader-f16; checked that f16 ops refuse clearly",
        ctx.adapter_name()
    );
    None
}

fn round_f16(v: &[f32]) -> Vec<f32> {
    v.iter()
        .map(|&x| half::f16::from_f32(x.clamp(-65504.0, 65504.0)).to_f32())
        .collect()
}

#[test]
fn matmul_f16_all_layouts_odd_shapes_f32_and_f16_outputs() {
    let Some(ctx) = f16_ctx() else { return };
    let shapes = [(1, 1, 1), (7, 33, 65), (65, 127, 33), (130, 67, 257)];
    let mut seed = 40;
    for &(m, n, k) in &shapes {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for out_f16 in [false, true] {
                for act in [Activation::Identity, Activation::Relu, Activation::Tanh] {
                    seed += 1;
                    let mut g = rng(seed);
                    let a = round_f16(&rand_vec(&mut g, m * k, -1.0, 1.0));
                    let b = round_f16(&rand_vec(&mut g, k * n, -1.0, 1.0));
                    let bias = rand_vec(&mut g, n, -1.0, 1.0);
                    let c0 = round_f16(&rand_vec(&mut g, m * n, -1.0, 1.0));
                    let (ta_t, tb_t) = (
                        ctx.upload_f16("a", &a).unwrap(),
                        ctx.upload_f16("b", &b).unwrap(),
                    );
                    let tbias = ctx.upload("bias", &bias).unwrap();
                    let spec = MatmulSpec {
                        alpha: 0.75,
                        beta: 0.5,
                        act,
                        ..MatmulSpec::new(m, n, k, ta, tb)
                    };
                    let (out, c_t) = if out_f16 {
                        let c = ctx.upload_f16("c", &c0).unwrap();
                        let step = ops::matmul_f16(
                            ctx,
                            &spec,
                            &ta_t,
                            &tb_t,
                            Some(&tbias),
                            MatmulOut::F16(&c),
                        );
                        ctx.run(&[&step.unwrap()]).unwrap();
                        (ctx.read_f16(&c, m * n).unwrap(), c)
                    } else {
                        let c = ctx.upload("c", &c0).unwrap();
                        let step = ops::matmul_f16(
                            ctx,
                            &spec,
                            &ta_t,
                            &tb_t,
                            Some(&tbias),
                            MatmulOut::F32(&c),
                        );
                        ctx.run(&[&step.unwrap()]).unwrap();
                        (ctx.read(&c).unwrap(), c)
                    };
                    drop(c_t);
                    let (acc, abs) = r::matmul(&a, &b, m, n, k, ta, tb);
                    let want = r::matmul_epilogue(&acc, n, 0.75, Some(&bias), act, 0.5, &c0);
                    // The operands are exact f16 values, so what remains is the
                    // f32 dot-product bound and the epilogue's roundings, plus,
                    // for an f16 output, one rounding to f16 (either neighbour).
                    let sk = (k as f64).sqrt();
                    let out_round = if out_f16 { 2.0 * U16 } else { 0.0 };
                    assert_close(
                        &format!(
                            "matmul_f16 ta={ta} tb={tb} out_f16={out_f16} {act:?} {m}x{n}x{k}"
                        ),
                        &out,
                        &want,
                        |i, rv| {
                            2.0 * sk * U * 0.75 * abs[i]
                                + 16.0 * U * (rv.abs() + 1.0)
                                + out_round * rv.abs()
                                + 1e-30
                        },
                    );
                }
            }
        }
    }
}

#[test]
fn casts_round_to_a_neighbouring_f16_and_back_exactly() {
    let Some(ctx) = f16_ctx() else { return };
    let mut g = rng(9);
    let mut x = rand_vec(&mut g, 4099, -4.0, 4.0);
    // The edges: huge values clamp to the largest finite f16, tiny ones go
    // subnormal, and exact f16 values stay put.
    x[..8].copy_from_slice(&[1e6, -1e6, 65504.0, 1e-7, -3e-6, 0.0, 1.0, 0.5]);
    let tx = ctx.upload("x", &x).unwrap();
    let t16 = ctx.zeros("x16", ops::f16_words(x.len())).unwrap();
    let back = ctx.zeros("back", x.len()).unwrap();
    ctx.run(&[
        &ops::to_f16(ctx, x.len(), &tx, &t16).unwrap(),
        &ops::to_f32(ctx, x.len(), &t16, &back).unwrap(),
    ])
    .unwrap();
    let h = ctx.read_f16(&t16, x.len()).unwrap();
    let b = ctx.read(&back).unwrap();
    assert_eq!(h, b, "to_f32 must be exact");
    for (i, (&xi, &hi)) in x.iter().zip(&h).enumerate() {
        let clamped = f64::from(xi.clamp(-65504.0, 65504.0));
        // WGSL lets the conversion round either way: within one f16 ulp,
        // relative for normal values and 2^-24 absolute for subnormals.
        let tol = 2.0 * U16 * clamped.abs() + 2f64.powi(-24);
        assert!(
            (f64::from(hi) - clamped).abs() <= tol,
            "to_f16[{i}]: {xi} -> {hi}"
        );
    }
    assert_eq!(&h[..3], &[65504.0, -65504.0, 65504.0]);
    assert_eq!(&h[5..8], &[0.0, 1.0, 0.5]);
}

#[test]
fn f16_ops_reject_short_tensors() {
    let Some(ctx) = f16_ctx() else { return };
    let small = ctx.zeros("small", 3).unwrap(); // 6 f16 values
    let c = ctx.zeros("c", 64).unwrap();
    let spec = MatmulSpec::new(4, 4, 4, false, false); // A needs 16
    let Err(err) = ops::matmul_f16(ctx, &spec, &small, &small, None, MatmulOut::F32(&c)) else {
        panic!("A is too short");
    };
    let err = err.to_string();
    assert!(err.contains("f16 values"), "{err}");
}

/// Round to the nearest f16 (ties to even), as f64.
fn r16(v: f64) -> f64 {
    f64::from(half::f16::from_f32((v as f32).clamp(-65504.0, 65504.0)).to_f32())
}

/// f16 inference of whole models against an f64 simulation of the same plan:
/// weights, input and the activations between layers rounded to f16, all
/// else exact. The tolerance allows the f32 sums and, per input of the last
/// layer, one f16 ulp (WGSL may round a cast either way).
#[test]
fn f16_inference_matches_an_f64_simulation_of_the_plan() {
    let Some(ctx) = f16_ctx() else { return };
    let cases = [
        ("plain 61-13-61", ModelConfig::dense(61, &[13])),
        ("tied 61-29-7", ModelConfig::dense(61, &[29, 7]).tied(true)),
        (
            "deep tanh/identity",
            ModelConfig::dense(61, &[29, 7])
                .act(Activation::Tanh)
                .out_act(Activation::Identity)
                .loss(LossKind::Mse),
        ),
    ];
    for (ci, (name, cfg)) in cases.iter().enumerate() {
        let model = Autoencoder::new(ctx, cfg, 5 + ci as u64).unwrap();
        let params = model.params_host().unwrap();
        let layout = model.layout().clone();
        let rows = 37;
        let mut g = rng(70 + ci as u64);
        let x = rand_vec(&mut g, rows * 61, 0.0, 1.0);
        let data = Dataset::new(x.clone(), rows, 61, None).unwrap();
        let got = model.reconstruct_with(&data, Precision::F16).unwrap();
        let codes = model.encode_with(&data, Precision::F16).unwrap();

        let layers = cfg.layers();
        let mut act: Vec<f64> = x.iter().map(|&v| r16(f64::from(v))).collect();
        let (mut want, mut tol) = (Vec::new(), Vec::new());
        for (li, l) in layers.iter().enumerate() {
            let lp = &layout.layers[li];
            let we = &layout.entries[lp.weight().unwrap()];
            let w = &params[we.offset..we.offset + we.len()];
            let b = &params[layout.entries[lp.get("bias").unwrap()].offset..][..l.outputs];
            // W as (outputs, inputs); a tied layer reads the encoder's transposed.
            let wt = |o: usize, i: usize| {
                let v = if lp.transposed {
                    w[i * l.outputs + o]
                } else {
                    w[o * l.inputs + i]
                };
                r16(f64::from(v))
            };
            let last = li + 1 == layers.len();
            let mut next = vec![0.0; rows * l.outputs];
            let mut bound = vec![0.0; rows * l.outputs];
            for r in 0..rows {
                for o in 0..l.outputs {
                    let (mut s, mut abs) = (f64::from(b[o]), f64::from(b[o]).abs());
                    for i in 0..l.inputs {
                        let t = wt(o, i) * act[r * l.inputs + i];
                        s += t;
                        abs += t.abs();
                    }
                    let y = r::act(s, l.act);
                    next[r * l.outputs + o] = if last { y } else { r16(y) };
                    let sk = (l.inputs as f64).sqrt();
                    bound[r * l.outputs + o] =
                        1.13 * (2.0 * sk * U * abs + 2.0 * U16 * abs) + 16.0 * U * (y.abs() + 1.0);
                }
            }
            if li + 1 == cfg.encoder.len() {
                // The code, as encode_with returns it: f32, not rounded.
                let code: Vec<f64> = (0..rows * l.outputs)
                    .map(|k| {
                        let (r_, o) = (k / l.outputs, k % l.outputs);
                        let mut s = f64::from(b[o]);
                        for i in 0..l.inputs {
                            s += wt(o, i) * act[r_ * l.inputs + i];
                        }
                        r::act(s, l.act)
                    })
                    .collect();
                assert_close(&format!("{name}: f16 codes"), &codes, &code, |k, _| {
                    bound[k]
                });
            }
            if last {
                want = next.clone();
                tol = bound;
            }
            act = next;
        }
        assert_close(
            &format!("{name}: f16 reconstruction"),
            &got,
            &want,
            |k, _| tol[k],
        );

        // And how far mixed precision lands from f32, for the record.
        let f32_out = model.reconstruct(&data).unwrap();
        let maxdiff = got
            .iter()
            .zip(&f32_out)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            maxdiff > 0.0,
            "{name}: f16 and f32 agree bit for bit: not f16?"
        );
        assert!(maxdiff < 0.05, "{name}: f16 is {maxdiff} from f32");
    }
}

/// A VAE in f16: the code is the head's mean, and the reconstruction decodes
/// it, as in f32, to within f16 rounding.
#[test]
fn f16_inference_of_a_vae_decodes_its_mean() {
    let Some(ctx) = f16_ctx() else { return };
    let vae = ModelConfig::dense(20, &[8, 2]).variational(1.0);
    let model = Autoencoder::new(ctx, &vae, 1).unwrap();
    let mut g = rng(3);
    let data = Dataset::new(rand_vec(&mut g, 5 * 20, 0.0, 1.0), 5, 20, None).unwrap();
    let (c32, c16) = (
        model.encode(&data).unwrap(),
        model.encode_with(&data, Precision::F16).unwrap(),
    );
    assert_eq!(c16.len(), 5 * 2);
    let (r32, r16) = (
        model.reconstruct(&data).unwrap(),
        model.reconstruct_with(&data, Precision::F16).unwrap(),
    );
    assert_eq!(r16, model.decode_with(&c16, 5, Precision::F16).unwrap());
    // A few f16 roundings of values of order 1 through two small layers.
    for (a, b) in c32.iter().zip(&c16).chain(r32.iter().zip(&r16)) {
        assert!((a - b).abs() < 8.0 * U16 as f32, "{a} vs {b}");
    }
    assert_eq!("half".parse::<Precision>().unwrap(), Precision::F16);
    assert!("f8".parse::<Precision>().is_err());
}

/// f16 inference of a conv model (convolution, batch normalization with
/// trained running statistics, max pooling, a Dense code through Flatten and
/// Reshape, upsampling, a transposed convolution) against an f64 simulation
/// of the plan: f16 activations between layers, f16 Dense weights, the other
/// kinds in f32 on f16 inputs. A value that lands near an f16 rounding
/// boundary may round the other way and carry one f16 ulp onward, so the
/// tolerance is two f16 ulps of the sigmoid output (lavapipe lands within
/// 1e-7), far below what a wrong weight, layout or statistic gives.
#[test]
fn f16_inference_of_a_conv_model_matches_an_f64_simulation() {
    use wgae::model::{LayerDesc, LayerKind, Padding};
    use wgae::reference::layer::Weights;
    use wgae::reference::twin;
    use wgae::{Control, TrainConfig, Trainer};
    let Some(ctx) = f16_ctx() else { return };
    let cfg = ModelConfig::layered(
        &[2, 6, 8],
        vec![
            LayerDesc::conv2d(3, 3, Padding::same())
                .with_act(Activation::Identity)
                .without_bias(),
            LayerDesc::batch_norm2d().with_act(Activation::Relu),
            LayerDesc::max_pool2d(2, Padding::default()),
            LayerDesc::Flatten,
            LayerDesc::dense(5),
        ],
        vec![
            LayerDesc::dense(36),
            LayerDesc::Reshape {
                shape: vec![3, 3, 4],
            },
            LayerDesc::upsample2d(2),
            LayerDesc::conv2d(2, 3, Padding::same()),
        ],
    );
    let rows = 23;
    let mut g = rng(81);
    let x = rand_vec(&mut g, rows * 96, 0.0, 1.0);
    let data = Dataset::new(x.clone(), rows, 96, None).unwrap();
    let t = TrainConfig {
        epochs: 2,
        batch_size: 8,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(ctx, &cfg, &t, &data, None).unwrap();
    trainer.fit(|_| Control::Continue, |_| {}).unwrap();
    let model = trainer.into_model();
    let got = model.reconstruct_with(&data, Precision::F16).unwrap();
    let codes = model.encode_with(&data, Precision::F16).unwrap();

    let params: Vec<f64> = model
        .params_host()
        .unwrap()
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let layout = model.layout().clone();
    let entry = |i: usize| {
        let e = &layout.entries[i];
        &params[e.offset..e.offset + e.len()]
    };
    let layers = cfg.layers();
    let mut act: Vec<f64> = x.iter().map(|&v| r16(f64::from(v))).collect();
    let mut code = Vec::new();
    for (li, l) in layers.iter().enumerate() {
        let lp = &layout.layers[li];
        let mut w: Vec<f64> = lp.weight().map_or(Vec::new(), |i| entry(i).to_vec());
        if l.kind == LayerKind::Dense {
            w.iter_mut().for_each(|v| *v = r16(*v));
        }
        let p = Weights {
            params: lp
                .params
                .iter()
                .map(|&(name, i)| (name, if name == "weight" { &w[..] } else { entry(i) }))
                .collect(),
            transposed: lp.transposed,
            buffers: lp
                .buffers
                .map_or(0..0, |f| f..f + lp.n_buffers)
                .map(entry)
                .collect(),
            skip: None,
            training: false,
        };
        let z = twin(l.kind).forward(l, &act, &p, rows);
        let y: Vec<f64> = z.iter().map(|&v| r::act(v, l.act)).collect();
        if li + 1 == cfg.encoder_len() {
            code = y.clone();
        }
        let last = li + 1 == layers.len();
        act = if last {
            y
        } else {
            y.into_iter().map(r16).collect()
        };
    }
    let tol = |_: usize, rv: f64| 2.0 * U16 * (rv.abs() + 0.25);
    assert_close("conv f16 codes", &codes, &code, tol);
    assert_close("conv f16 reconstruction", &got, &act, tol);
    let f32_out = model.reconstruct(&data).unwrap();
    let maxdiff = got
        .iter()
        .zip(&f32_out)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(maxdiff > 0.0, "f16 and f32 agree bit for bit: not f16?");
}
