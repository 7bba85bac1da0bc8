//! `wgae bench`: training and inference throughput of a model on this GPU
//! (with `--profile`, the GPU time of every dispatch of a step), or with
//! `--matmul`, single matmuls for every layout and kernel.

use wgae::data::sparse::Csr;
use wgae::data::{Dataset, Source};
use wgae::kernels::matmul::{self as mm, tune};
use wgae::{Control, ModelConfig, Precision, Trainer};

use crate::cli::open_gpu;

/// Parses `N` or `MxNxK`.
pub fn parse_size(s: &str) -> wgae::Result<(usize, usize, usize)> {
    let bad = || {
        wgae::Error::InvalidArgument(format!(
            "--matmul: '{s}' is not a size (N for NxNxN, or MxNxK)"
        ))
    };
    let d: Vec<usize> = s
        .split('x')
        .map(|v| v.trim().parse().map_err(|_| bad()))
        .collect::<wgae::Result<_>>()?;
    match d[..] {
        [n] if n > 0 => Ok((n, n, n)),
        [m, n, k] if m > 0 && n > 0 && k > 0 => Ok((m, n, k)),
        _ => Err(bad()),
    }
}

/// Times single matmuls: warm-up, then repeats for about half a second, with
/// the device waited on inside the timed region.
pub fn bench_matmul(sizes: &[String], json: bool) -> wgae::Result<()> {
    use wgae::kernels::{self as ops, MatmulOut, MatmulSpec};
    let sizes: Vec<_> = sizes
        .iter()
        .map(|s| parse_size(s))
        .collect::<wgae::Result<_>>()?;
    let ctx = open_gpu(None)?;
    // Each matrix must fit the host and one buffer of the adapter.
    for &(m, n, k) in &sizes {
        let what = format!("--matmul {m}x{n}x{k}");
        let limit = ctx.dataset_binding_limit();
        for (name, count) in [
            ("A", m as u128 * k as u128),
            ("B", k as u128 * n as u128),
            ("C", m as u128 * n as u128),
        ] {
            let bytes = wgae::data::memory::check_host(&what, count, 4)?;
            if bytes > limit {
                return Err(wgae::Error::InvalidArgument(format!(
                    "{what}: {name} takes {bytes} bytes, and adapter '{}' holds at most {limit} \
                     in one buffer; give a smaller size",
                    ctx.adapter_name()
                )));
            }
        }
    }
    let time = |step: &wgae::Step| -> wgae::Result<f64> {
        ctx.run_wait(&[step])?;
        let mut reps = 1usize;
        loop {
            let t0 = std::time::Instant::now();
            for _ in 0..reps {
                ctx.run(&[step])?;
            }
            ctx.wait()?;
            let dt = t0.elapsed().as_secs_f64();
            if dt > 0.5 || reps >= 1 << 16 {
                return Ok(dt / reps as f64);
            }
            reps *= 2;
        }
    };
    for (m, n, k) in sizes {
        let a = ctx.upload("a", &vec![0.5f32; m * k])?;
        let b = ctx.upload("b", &vec![0.25f32; k * n])?;
        let c = ctx.zeros("c", m * n)?;
        let halves = if ctx.has_f16() {
            Some((
                ctx.upload_f16("a16", &vec![0.5f32; m * k])?,
                ctx.upload_f16("b16", &vec![0.25f32; k * n])?,
            ))
        } else {
            None
        };
        for (layout, ta, tb) in [
            ("A.B", false, false),
            ("At.B", true, false),
            ("A.Bt", false, true),
        ] {
            let spec = MatmulSpec::new(m, n, k, ta, tb);
            // Every f32 kernel, the plan's choice marked, then f16.
            let chosen = mm::kernel_for(&ctx, &spec, None);
            let mut runs = Vec::new();
            for kernel in tune::candidates(&ctx) {
                let step = ops::matmul_with(&ctx, kernel, &spec, &a, &b, None, &c)?;
                runs.push(("f32", kernel == chosen, step));
            }
            if let Some((a16, b16)) = &halves {
                let step = ops::matmul_f16(&ctx, &spec, a16, b16, None, MatmulOut::F32(&c))?;
                runs.push(("f16", false, step));
            }
            for (precision, is_chosen, step) in runs {
                let secs = time(&step)?;
                let gflops = spec.flops() / secs / 1e9;
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "matmul": format!("{m}x{n}x{k}"),
                            "layout": layout,
                            "precision": precision,
                            "kernel": step.label(),
                            "chosen": is_chosen,
                            "ms": secs * 1e3,
                            "gflops": gflops,
                            "loop_bounding": ctx.loop_bounding(),
                            "adapter": ctx.adapter_name(),
                        })
                    );
                } else {
                    println!(
                        "{m}x{n}x{k} {layout:5} {precision}{}: {:9.3} ms  {gflops:9.1} GFLOP/s  ({})",
                        if is_chosen { "*" } else { " " },
                        secs * 1e3,
                        step.label()
                    );
                }
            }
        }
    }
    if !json {
        println!(
            "* the f32 kernel wgae's plans use for this shape ({})",
            if ctx.autotune() {
                "measured while planning"
            } else {
                "fixed rule; WGAE_TUNE=1 measures instead"
            }
        );
    }
    Ok(())
}

/// The GPU time of each dispatch of one step, with its share of the total.
pub fn print_profile(dispatches: &[(String, f64)]) {
    let total: f64 = dispatches.iter().map(|(_, t)| t).sum();
    println!(
        "  profile    one step, {} dispatches, {:.1} us of GPU time in all (each in a pass of its own):",
        dispatches.len(),
        total * 1e6
    );
    for (label, secs) in dispatches {
        println!(
            "    {:>10.1} us {:5.1}%  {label}",
            secs * 1e6,
            100.0 * secs / total.max(f64::MIN_POSITIVE)
        );
    }
}

/// How many of a step's dispatches ran each matmul kernel, from labels like
/// `matmul[A.Bt*f'(A),64,vec4](256x32x784)` (kernel `64,vec4`), most used first.
pub fn matmul_kernels(labels: &[&str]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for label in labels {
        let Some(inner) = label
            .strip_prefix("matmul[")
            .and_then(|rest| rest.split(']').next())
        else {
            continue;
        };
        let kernel = inner.split_once(',').map_or(inner, |(_, k)| k).to_string();
        match counts.iter_mut().find(|(k, _)| *k == kernel) {
            Some((_, n)) => *n += 1,
            None => counts.push((kernel, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// `wgae bench`'s flags.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Layer widths from the input to the code (default: 784,32 and, on a
    /// hardware GPU, 4096,1024,256).
    #[arg(long, value_delimiter = ',', conflicts_with = "config")]
    pub arch: Option<Vec<usize>>,
    /// Instead, the model of a config file (a convolutional one, say),
    /// at its batch size unless --batch is given.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Batch size (default 256 for 784,32 and 1024 for the wide model).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Timed training steps per configuration.
    #[arg(long, default_value_t = 40)]
    pub steps: usize,
    /// One JSON line per configuration.
    #[arg(long)]
    pub json: bool,
    /// Also time every dispatch of one training step on the GPU
    /// (timestamp queries), to see where a step's time goes.
    #[arg(long)]
    pub profile: bool,
    /// Instead, time single matmuls: sizes N (for NxNxN) or MxNxK, comma
    /// separated, e.g. 1024,4096 or 256x784x32. Every layout, every f32
    /// kernel (the plans' choice marked *), and (with shader-f16) f16.
    #[arg(long, value_delimiter = ',')]
    pub matmul: Option<Vec<String>>,
    /// Instead, train on the same data resident on the GPU and streamed
    /// from host memory (as f32 and as u8): the cost of streaming, the
    /// upload bandwidth, and how much of it hides behind the GPU.
    #[arg(long, conflicts_with_all = ["matmul", "config", "profile"])]
    pub stream: bool,
    /// Train on sparse rows with this share of their cells set (a rating
    /// matrix, e.g. 0.063 for MovieLens-100K), kept sparse on the GPU and
    /// gathered into each batch there: with --profile, the gather's cost.
    /// A masked model reads the unset cells as missing, others as 0.
    #[arg(long, conflicts_with_all = ["matmul", "stream"])]
    pub sparse: Option<f64>,
}

/// `wgae bench`: --matmul, --stream, or the models.
pub fn run(a: BenchArgs) -> wgae::Result<()> {
    match &a.matmul {
        Some(sizes) => bench_matmul(sizes, a.json),
        None if a.stream => {
            crate::cli::bench_stream::bench_stream(a.arch, a.batch, a.steps, a.json)
        }
        None => bench(a),
    }
}

pub fn bench(a: BenchArgs) -> wgae::Result<()> {
    let BenchArgs {
        arch,
        config,
        batch,
        steps,
        json,
        profile,
        sparse,
        ..
    } = a;
    if sparse.is_some_and(|d| !(d > 0.0 && d <= 1.0)) {
        return Err(wgae::Error::InvalidArgument(format!(
            "--sparse {}: give the share of cells set, in (0, 1], e.g. 0.063",
            sparse.unwrap_or(0.0)
        )));
    }
    // A flag that is given takes effect or is refused.
    // Whole epochs of 4 to 16 resident batches, exactly `steps` of them.
    let Some(per_epoch) = (4..=16).find(|d| steps >= 4 && steps.is_multiple_of(*d)) else {
        return Err(wgae::Error::InvalidArgument(format!(
            "--steps {steps}: a bench times whole epochs of 4 to 16 steps; give a multiple of \
             one of those (at least 4), e.g. {}",
            steps.max(4).div_ceil(4) * 4
        )));
    };
    if batch == Some(0) {
        return Err(wgae::Error::InvalidArgument(
            "--batch 0: a batch holds at least one sample".into(),
        ));
    }
    let ctx = open_gpu(None)?;
    // Refused before the timing runs, not after.
    if profile {
        ctx.require_timestamps("--profile")?;
    }
    for (model, batch) in bench_models(&ctx, arch, config.as_deref(), batch)? {
        let run = Run {
            batch,
            steps,
            per_epoch,
            profile,
            sparse,
        };
        let m = measure(&ctx, &model, &run)?;
        if json {
            print_json(&ctx, &m);
        } else {
            print_text(&ctx, &m);
        }
    }
    Ok(())
}

/// The models to time, each with its batch: `--arch`, `--config`, or the
/// default pair (the wide one only on a hardware GPU).
fn bench_models(
    ctx: &wgae::GpuContext,
    arch: Option<Vec<usize>>,
    config: Option<&std::path::Path>,
    batch: Option<usize>,
) -> wgae::Result<Vec<(ModelConfig, usize)>> {
    let dense = |a: &[usize]| ModelConfig::dense(a[0], &a[1..]);
    Ok(match (arch, config) {
        (Some(a), _) => {
            if a.len() < 2 {
                return Err(wgae::Error::InvalidArgument(
                    "--arch needs the input width and the code width, e.g. 784,32".into(),
                ));
            }
            vec![(dense(&a), batch.unwrap_or(256))]
        }
        (None, Some(path)) => {
            let file = crate::cli::train::read_config(path)?;
            let b = batch.unwrap_or(file.train.batch_size);
            vec![(file.model, b)]
        }
        (None, None) => {
            let mut v = vec![(dense(&[784, 32]), batch.unwrap_or(256))];
            if ctx.is_software() {
                eprintln!("note: skipping the wide 4096-1024-256 model on a software adapter (minutes per step); give --arch to run it");
            } else {
                v.push((dense(&[4096, 1024, 256]), batch.unwrap_or(1024)));
            }
            v
        }
    })
}

/// What one model's bench measured.
struct Measured {
    name: String,
    sparse: Option<f64>,
    batch: usize,
    rows: usize,
    n_steps: f64,
    steps_per_sec: f64,
    flops: f64,
    /// Inference samples/s.
    infer: f64,
    /// (samples/s, max and mean |f16 - f32|) where the adapter has f16.
    f16: Option<(f64, f64, f64)>,
    memory: u64,
    dispatches_per_step: usize,
    /// Whether the plan fused the activation gradients.
    fused_act_grad: bool,
    kernels: Vec<(String, usize)>,
    dispatches: Option<Vec<(String, f64)>>,
}

/// How one model is timed.
struct Run {
    batch: usize,
    steps: usize,
    per_epoch: usize,
    profile: bool,
    /// The share of cells set, for sparse rows.
    sparse: Option<f64>,
}

/// The bench's rows: uniform values, or (with a density) sparse rows whose
/// set cells hold ratings 1 to 5 for a masked model (the others missing)
/// and 1 otherwise (the others 0); and the same rows dense, for inference.
fn bench_data(
    model: &ModelConfig,
    rows: usize,
    density: Option<f64>,
) -> wgae::Result<(Source, Dataset)> {
    use rand::{Rng, SeedableRng};
    let width = model.input_dim;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let Some(d) = density else {
        let data: Vec<f32> = (0..rows * width).map(|_| rng.random::<f32>()).collect();
        return Ok((
            Source::memory(data.clone(), rows, width)?,
            Dataset::new(data, rows, width, None)?,
        ));
    };
    let masked = model.missing == wgae::model::Missing::Mask;
    let (mut r, mut c, mut v) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rows {
        for j in 0..width {
            if rng.random::<f64>() < d {
                r.push(i as u32);
                c.push(j as u32);
                v.push(if masked {
                    rng.random_range(1..=5) as f32
                } else {
                    1.0
                });
            }
        }
    }
    let absent = if masked { wgae::data::MISSING } else { 0.0 };
    let m = Csr::from_triples(rows, width, &r, &c, &v, absent)?;
    // Inference reads the same rows (a masked model reads a missing entry
    // as 0).
    let mut dense = vec![0.0; rows * width];
    m.densify(0, &mut dense);
    Ok((Source::sparse(m), Dataset::new(dense, rows, width, None)?))
}

/// Trains `model` on uniform data (or sparse rows), `per_epoch` batches
/// resident, for whole epochs after a first that warms up; then times
/// inference in f32 and f16.
fn measure(ctx: &wgae::GpuContext, model: &ModelConfig, run: &Run) -> wgae::Result<Measured> {
    let &Run {
        batch,
        steps,
        per_epoch,
        profile,
        sparse,
    } = run;
    let width = model.input_dim;
    wgae::data::memory::check_host(
        &format!("--batch {batch}"),
        batch as u128 * per_epoch as u128 * width as u128,
        4,
    )?;
    let rows = batch * per_epoch;
    let (source, data) = bench_data(model, rows, sparse)?;
    let epochs = steps.div_ceil(per_epoch);
    let t = wgae::TrainConfig {
        epochs: epochs + 1,
        batch_size: batch,
        validation_split: 0.0,
        ..Default::default()
    };
    let before = ctx.live_bytes();
    let plan = crate::cli::plan_options()?;
    let m = wgae::Autoencoder::new(ctx, model, t.seed)?.with_plan_options(plan);
    let mut trainer = Trainer::from_source(m, &t, &source, None)?;
    let memory = ctx.live_bytes() - before;
    let history = trainer.fit(|_| Control::Continue, |_| {})?;
    // The first epoch warms up (pipeline creation, first submission).
    let timed: f64 = history.epochs[1..].iter().map(|e| e.seconds).sum();
    let n_steps = (epochs * per_epoch) as f64;
    // Inference: encode + decode (a reconstruction) of the resident rows.
    let m = trainer.model();
    m.reconstruct(&data)?;
    let t0 = std::time::Instant::now();
    let rec32 = m.reconstruct(&data)?;
    let infer = rows as f64 / t0.elapsed().as_secs_f64();
    // Mixed precision, where the adapter has f16: speed, and distance
    // from f32.
    let f16 = if ctx.has_f16() {
        m.reconstruct_with(&data, Precision::F16)?;
        let t0 = std::time::Instant::now();
        let rec16 = m.reconstruct_with(&data, Precision::F16)?;
        let speed = rows as f64 / t0.elapsed().as_secs_f64();
        let diffs = rec16
            .iter()
            .zip(&rec32)
            .map(|(a, b)| f64::from((a - b).abs()));
        let (max, sum) = diffs.fold((0.0f64, 0.0), |(m, s), d| (m.max(d), s + d));
        Some((speed, max, sum / rec32.len() as f64))
    } else {
        None
    };
    let kernels = matmul_kernels(&trainer.step_labels());
    Ok(Measured {
        name: match sparse {
            Some(d) => format!(
                "{} on sparse rows ({:.1}% set)",
                model.arch_name(),
                d * 100.0
            ),
            None => model.arch_name(),
        },
        sparse,
        batch,
        rows,
        n_steps,
        steps_per_sec: n_steps / timed,
        flops: model.train_flops_per_sample() * batch as f64,
        infer,
        f16,
        memory,
        dispatches_per_step: trainer.dispatches_per_step(),
        fused_act_grad: plan.fuses_act_grad(ctx),
        kernels,
        // After the timing: one more step, each dispatch timed on the GPU.
        dispatches: if profile {
            Some(trainer.profile_step()?)
        } else {
            None
        },
    })
}

fn print_json(ctx: &wgae::GpuContext, m: &Measured) {
    println!(
        "{}",
        serde_json::json!({
            "model": m.name,
            "sparse_density": m.sparse,
            "batch": m.batch,
            "steps": m.n_steps,
            "steps_per_sec": m.steps_per_sec,
            "samples_per_sec": m.steps_per_sec * m.batch as f64,
            "flops_per_step": m.flops,
            "gflops": m.flops * m.steps_per_sec / 1e9,
            "inference_samples_per_sec": m.infer,
            "inference_f16_samples_per_sec": m.f16.map(|f| f.0),
            "f16_max_abs_diff": m.f16.map(|f| f.1),
            "f16_mean_abs_diff": m.f16.map(|f| f.2),
            "gpu_memory_bytes": m.memory,
            "dispatches_per_step": m.dispatches_per_step,
            "matmul_kernels": m.kernels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "matmul_kernels_measured": ctx.autotune(),
            "fused_act_grad": m.fused_act_grad,
            "loop_bounding": ctx.loop_bounding(),
            "profile": m.dispatches.as_ref().map(|d| d
                .iter()
                .map(|(label, secs)| serde_json::json!({"dispatch": label, "us": secs * 1e6}))
                .collect::<Vec<_>>()),
            "adapter": ctx.adapter_name(),
        })
    );
}

fn print_text(ctx: &wgae::GpuContext, m: &Measured) {
    let (name, batch, rows, sps) = (&m.name, m.batch, m.rows, m.steps_per_sec);
    println!("{name}, batch {batch}, on {}:", ctx.adapter_name());
    println!(
        "  training   {sps:.1} steps/s, {:.0} samples/s ({} timed steps, {} dispatches/step)",
        sps * batch as f64,
        m.n_steps,
        m.dispatches_per_step
    );
    println!(
        "  compute    {:.3} GFLOP/step, {:.2} GFLOP/s (products)",
        m.flops / 1e9,
        m.flops * sps / 1e9
    );
    println!(
        "  matmuls    {} per step ({}): {}",
        m.kernels.iter().map(|(_, n)| n).sum::<usize>(),
        if ctx.autotune() {
            "kernels measured per shape"
        } else {
            "kernels by the fixed rule"
        },
        m.kernels
            .iter()
            .map(|(k, n)| format!("{n}x {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if ctx.loop_bounding() {
        println!("  kernels    compiled with wgpu's loop guard (WGAE_LOOP_BOUNDING=1)");
    }
    println!(
        "  inference  {:.0} samples/s (reconstruct, {rows} rows)",
        m.infer
    );
    match m.f16 {
        Some((speed, max, mean)) => println!(
            "  f16        {speed:.0} samples/s (mixed-precision reconstruct; |f16 - f32| max {max:.1e}, mean {mean:.1e})"
        ),
        None => println!("  f16        not available (the adapter has no shader-f16)"),
    }
    println!(
        "  memory     {:.1} MiB in GPU buffers (parameters, gradients, moments, activations, data)",
        m.memory as f64 / (1024.0 * 1024.0)
    );
    if let Some(d) = &m.dispatches {
        print_profile(d);
    }
}
