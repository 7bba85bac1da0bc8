//! The `wgae` command line. Thin: it parses flags and hands each command to
//! its module in `cli/`.

mod cli;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cli::train::TrainArgs;
use cli::{ModelData, Output};

#[derive(Parser)]
#[command(
    name = "wgae",
    version,
    about = "Autoencoders on any GPU through WebGPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every GPU adapter, its limits, and the one wgae would use.
    Info,
    /// Train an autoencoder (on built-in synthetic digits when no --data is given).
    // `--lr -1` reaches the validation, which refuses it naming the flag,
    // instead of reading as an unknown flag '-1'.
    #[command(allow_negative_numbers = true)]
    Train(Box<TrainArgs>),
    /// Measure training and inference throughput on this GPU.
    #[command(allow_negative_numbers = true)]
    Bench(Box<cli::bench::BenchArgs>),
    /// Convert a CSV file, a folder of images or an IDX file once to .npy,
    /// which wgae reads from disk as it needs it (float32 for CSV; images
    /// and IDX stay uint8, a quarter of the size).
    Convert {
        /// The input: CSV, a folder of PNG/JPEG images, or IDX (raw or .gz).
        #[arg(long)]
        data: PathBuf,
        /// Override format detection: idx, csv, images.
        #[arg(long)]
        format: Option<wgae::data::files::Format>,
        /// Read the images in colour (three values per pixel).
        #[arg(long)]
        rgb: bool,
        #[command(flatten)]
        output: Output,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Write the code of every sample to FILE.npy or FILE.csv.
    Encode {
        #[command(flatten)]
        input: ModelData,
        #[command(flatten)]
        output: Output,
    },
    /// A PNG grid of samples (top) above their reconstructions (bottom), or
    /// with --out FILE.npy or FILE.csv every sample's reconstruction.
    Reconstruct {
        #[command(flatten)]
        input: ModelData,
        #[command(flatten)]
        output: Output,
        /// How many samples (default: 10 in a picture, all in a .npy or .csv).
        #[arg(long)]
        n: Option<usize>,
    },
    /// The data with each missing entry (NaN, or an empty, NaN or NA CSV
    /// field) filled in by a model trained with --missing mask, to a .csv or
    /// .npy; observed entries are kept as they are.
    Impute {
        #[command(flatten)]
        input: ModelData,
        #[command(flatten)]
        output: Output,
    },
    /// The top items for a user from an AutoRec model (wgae train --rows
    /// ... --save): the items the user has not rated in --data, ranked by
    /// predicted rating, as CSV lines on standard output.
    Recommend {
        /// A model file written by `wgae train --rows items|users --save`.
        #[arg(long)]
        model: PathBuf,
        /// The ratings the predictions start from (the training file, say).
        #[arg(long)]
        data: PathBuf,
        /// The user's ID, as the ratings file writes it.
        #[arg(long)]
        user: String,
        /// How many items.
        #[arg(long, default_value_t = 10)]
        k: usize,
    },
    /// The model as an ONNX graph (opset 17) for onnxruntime, TensorRT,
    /// OpenVINO and other ONNX runtimes: the reconstruction, the encoder, the
    /// decoder or the anomaly score.
    Export(Box<cli::export::ExportArgs>),
    /// A PNG grid of generated samples: decoded draws from the prior for a VAE,
    /// otherwise from the distribution of the training codes.
    #[command(allow_negative_numbers = true)]
    Generate {
        /// A model file written by `wgae train --save`.
        #[arg(long)]
        model: PathBuf,
        #[command(flatten)]
        output: Output,
        /// How many samples.
        #[arg(long, default_value_t = 40)]
        n: usize,
        /// Seed of the random codes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Anomaly scores (per-sample reconstruction error) to a CSV or .npy,
    /// flagging those above a threshold (the given one, a percentile of the
    /// scores, or median + K robust deviations of the training errors).
    #[command(allow_negative_numbers = true)]
    Anomaly {
        #[command(flatten)]
        input: ModelData,
        #[command(flatten)]
        output: Output,
        /// Flag scores above this percentile of all scores (default 95).
        #[arg(long, conflicts_with_all = ["threshold", "mad"])]
        percentile: Option<f64>,
        /// Flag scores above this value.
        #[arg(long, conflicts_with = "mad")]
        threshold: Option<f32>,
        /// Flag scores above the training errors' median plus K robust
        /// standard deviations (1.4826 x their median absolute deviation):
        /// no guess of the outliers' share. 3 is a common K.
        #[arg(long, value_name = "K")]
        mad: Option<f64>,
        /// Also write each feature's share of a row's error (its squared
        /// error over the number of features): which features made it an
        /// outlier.
        #[arg(long)]
        per_feature: bool,
        /// Score every time step of one long series (see --window): each
        /// step gets the mean of the errors of the windows that cover it,
        /// or with max their largest.
        #[arg(long, value_name = "mean|max", value_parser = parse_point_score)]
        point_score: Option<wgae::points::PointScore>,
        /// Draw the series, its per-step score, the threshold and the
        /// flagged ranges to this PNG (with --window).
        #[arg(long, value_name = "FILE.png")]
        plot: Option<PathBuf>,
        #[command(flatten)]
        series: cli::series::SeriesArgs,
    },
}

fn parse_point_score(s: &str) -> Result<wgae::points::PointScore, String> {
    wgae::points::PointScore::parse(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    match &cli.command {
        Command::Train(_) => cli::interrupt::install(
            None,
            "stopping after this step (Ctrl-C again quits at once)",
            "the last checkpoint, if any, is kept; nothing more was written",
        ),
        Command::Info | Command::Bench(_) => {}
        _ => cli::interrupt::install(
            Some(cli::interrupt::GRACE),
            "stopping (Ctrl-C again quits at once)",
            "nothing was written",
        ),
    }
    let result = match cli.command {
        Command::Info => cli::info::info(),
        Command::Train(args) => cli::train::train(*args),
        Command::Bench(a) => cli::bench::run(*a),
        Command::Convert {
            data,
            format,
            rgb,
            output: o,
            quiet,
        } => cli::convert::convert(&data, format, rgb, &o.out, o.force, quiet),
        Command::Encode {
            input: i,
            output: o,
        } => cli::encode::encode(&i, &o.out, o.force),
        Command::Reconstruct {
            input: i,
            output: o,
            n,
        } => cli::reconstruct::reconstruct(&i, &o.out, n, o.force),
        Command::Impute {
            input: i,
            output: o,
        } => cli::impute::impute(&i, &o.out, o.force),
        Command::Recommend {
            model,
            data,
            user,
            k,
        } => cli::recommend::recommend(&model, &data, &user, k),
        Command::Export(a) => cli::export::export(*a),
        Command::Generate {
            model,
            output: o,
            n,
            seed,
        } => cli::generate::generate(&model, n, &o.out, seed, o.force),
        Command::Anomaly {
            input: i,
            output: o,
            percentile,
            threshold,
            mad,
            per_feature,
            point_score,
            plot,
            series,
        } => cli::anomaly::Rule::of(threshold, percentile, mad).and_then(|rule| {
            let points = cli::anomaly_window::PointArgs {
                series: &series,
                how: point_score.unwrap_or(wgae::points::PointScore::Mean),
                plot: plot.as_deref(),
            };
            let windowed = series.window.is_some()
                || point_score.is_some()
                || plot.is_some()
                || wgae::io::load_extras(&i.model).is_ok_and(|e| e.window.is_some());
            series.refuse_without_window(windowed)?;
            if windowed {
                cli::anomaly_window::anomaly(&i, rule, per_feature, &points, &o.out, o.force)
            } else {
                cli::anomaly::anomaly(&i, rule, per_feature, &o.out, o.force)
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Stopped with Ctrl-C: the shell's code for SIGINT.
        // The library names its settings; the CLI's user has flags.
        Err(e @ wgae::Error::Interrupted(_)) => {
            eprintln!("{}", cli::words::in_flags(&e.to_string()));
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {}", cli::words::in_flags(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
