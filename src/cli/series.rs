//! The flags that cut one long series into windows (`train`, `anomaly`),
//! and the series they open: a CSV with a column per channel (a timestamp
//! and a label column can be named and are kept aside), or a 2-D `.npy`
//! of (time steps, channels), mapped and read as it is needed.

use std::path::Path;

use clap::Args;
use wgae::data::series::{self, SeriesColumns};
use wgae::data::source::mappable;
use wgae::data::windows::{WindowLayout, Windows};
use wgae::data::{files, Source};

#[derive(Args, Clone, Debug, Default)]
pub struct SeriesArgs {
    /// Cut one long series (a CSV with a column per channel, or a 2-D .npy
    /// of (time steps, channels)) into windows of W time steps: the
    /// samples. Dense models read a window as W x channels values, Conv1d
    /// models as (channels, W), recurrent ones as (W, channels).
    #[arg(long, value_name = "W")]
    pub window: Option<usize>,
    /// Time steps from one window's start to the next (default 1).
    #[arg(long, value_name = "S")]
    pub stride: Option<usize>,
    /// A CSV column (its header name, or its number from 1) of timestamps:
    /// not a feature; `anomaly` writes it beside each step's score.
    #[arg(long, value_name = "COLUMN")]
    pub time_column: Option<String>,
    /// A CSV column of labels (0 normal, anything else anomalous): not a
    /// feature; `anomaly` reports the ROC AUC of its scores against it.
    #[arg(long, value_name = "COLUMN")]
    pub label_column: Option<String>,
}

impl SeriesArgs {
    /// An error for series flags given without a window to cut.
    pub fn refuse_without_window(&self, windowed: bool) -> wgae::Result<()> {
        if windowed {
            return Ok(());
        }
        let given = [
            ("--stride", self.stride.is_some()),
            ("--time-column", self.time_column.is_some()),
            ("--label-column", self.label_column.is_some()),
        ];
        match given.iter().find(|(_, on)| *on) {
            Some((flag, _)) => Err(wgae::Error::InvalidArgument(format!(
                "{flag} applies to windows cut from one series; add --window W"
            ))),
            None => Ok(()),
        }
    }

    pub fn stride(&self) -> usize {
        self.stride.unwrap_or(1)
    }
}

/// A series as opened: its time steps (one row each, one column per
/// channel, not windowed), and what the CSV kept beside them.
pub struct OpenSeries {
    pub source: Source,
    pub names: Vec<String>,
    pub times: Option<Vec<String>>,
    pub labels: Option<Vec<u32>>,
}

/// Opens the series at `path` (as `format`, or detected): CSV within
/// `budget` bytes, a 2-D .npy mapped; `limit` keeps its first time steps.
pub fn open(
    path: &Path,
    format: Option<files::Format>,
    a: &SeriesArgs,
    limit: Option<usize>,
    budget: u64,
) -> wgae::Result<OpenSeries> {
    let detected = match format {
        Some(f) => f,
        None => files::detect(path)?,
    };
    let err = |message: String| wgae::Error::File {
        path: path.to_path_buf(),
        message,
    };
    let mut s = match detected {
        files::Format::Csv => {
            let cols = SeriesColumns {
                time: a.time_column.clone(),
                label: a.label_column.clone(),
            };
            let s = series::load_csv(path, &cols, budget)?;
            let channels = s.names.len();
            OpenSeries {
                source: Source::memory(s.values, s.steps, channels)
                    .map_err(|e| err(e.to_string()))?,
                names: s.names,
                times: s.times,
                labels: s.labels,
            }
        }
        files::Format::Npy => {
            if let Some(flag) = [
                ("--time-column", a.time_column.is_some()),
                ("--label-column", a.label_column.is_some()),
            ]
            .iter()
            .find_map(|(f, on)| on.then_some(f))
            {
                return Err(err(format!(
                    "{flag} names a CSV column, and a .npy holds values only; give the \
                     series as a CSV, or leave {flag} out"
                )));
            }
            let source = if mappable(path, Some(detected)) {
                Source::map(path, Some(detected))?
            } else {
                let d = files::load_npy(path)?;
                let (rows, cols) = (d.rows, d.cols);
                Source::memory(d.data, rows, cols)?
            };
            OpenSeries {
                names: (1..=source.cols()).map(|c| format!("ch{c}")).collect(),
                source,
                times: None,
                labels: None,
            }
        }
        files::Format::Idx | files::Format::Images => {
            return Err(err(
                "--window cuts one long series from a CSV (a column per channel) or a 2-D \
                 .npy (time steps, channels), not from images"
                    .into(),
            ))
        }
    };
    if let Some(n) = limit {
        s.source = s.source.slice(0, n);
        s.times = s.times.map(|t| t[..s.source.rows()].to_vec());
        s.labels = s.labels.map(|l| l[..s.source.rows()].to_vec());
    }
    Ok(s)
}

/// How `model` reads a window `w`: channels first for a model whose first
/// layer is a convolution over `[channels, W]`, step after step otherwise
/// (dense and recurrent models).
pub fn layout_for(model: &wgae::ModelConfig, w: &Windows) -> WindowLayout {
    if !model.is_layered() || w.channels == 1 {
        return WindowLayout::Time;
    }
    let Ok([c, _, len]) = model.sample_shape() else {
        return WindowLayout::Time;
    };
    let conv_first = model.layers().first().is_some_and(|l| {
        matches!(
            l.kind,
            wgae::model::LayerKind::Conv(_) | wgae::model::LayerKind::ConvTranspose(_)
        )
    });
    if c == w.channels && len == w.len && (c != len || conv_first) {
        WindowLayout::Channels
    } else {
        WindowLayout::Time
    }
}

/// The windows of `s` a command reads, with what the model file keeps of
/// them.
pub fn windows_of(
    s: &OpenSeries,
    len: usize,
    stride: usize,
    layout: WindowLayout,
) -> wgae::Result<(Source, wgae::io::WindowInfo)> {
    let source = s.source.windows(len, stride, layout)?;
    let info = wgae::io::WindowInfo {
        len,
        channels: s.source.cols(),
        layout,
        names: s.names.clone(),
    };
    Ok((source, info))
}
