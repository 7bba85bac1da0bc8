//! Windows over a series held by a [`Source`]: a source whose rows are
//! windows cut from the store's rows (time steps) as they are read.

use crate::data::windows::{WindowLayout, Windows};
use crate::data::Source;
use crate::error::{Error, Result};

/// Windows over a series: window `r` of the source covers the store's
/// rows from `first + (start + r) * stride`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cut {
    pub w: Windows,
    pub first: usize,
}

impl Source {
    /// Windows of `len` steps, one every `stride`, over these rows taken
    /// as a series of time steps (rows) of `cols` channels, laid out as
    /// `layout`; not copied, each is cut as it is read. Errors name
    /// `--window` and `--stride`.
    pub fn windows(&self, len: usize, stride: usize, layout: WindowLayout) -> Result<Source> {
        if self.cut.is_some() {
            return Err(Error::InvalidArgument(
                "these rows are windows already".into(),
            ));
        }
        if self.is_sparse() {
            return Err(Error::InvalidArgument(
                "sparse rows (ratings) are not a series to cut into windows".into(),
            ));
        }
        if self.transform.is_some() {
            return Err(Error::InvalidArgument(
                "cut windows before scaling: the scaling of windows is per channel".into(),
            ));
        }
        if self.dims().is_some_and(|d| d.len() > 1) {
            return Err(Error::InvalidArgument(format!(
                "{} holds samples shaped {:?}, not one series; --window cuts one long series \
                 (a CSV with a column per channel, or a 2-D .npy of (time steps, channels)). \
                 Samples that are windows already train without --window",
                self.name(),
                self.dims().unwrap_or_default()
            )));
        }
        let w = Windows::new(len, stride, self.store_cols(), layout)?;
        let rows = w.count(self.rows)?;
        Ok(Source {
            store: self.store.clone(),
            start: 0,
            rows,
            transform: None,
            cut: Some(Cut {
                w,
                first: self.start,
            }),
            missing: self.missing,
        })
    }

    /// How the rows are cut from a series, for windows.
    pub fn window(&self) -> Option<Windows> {
        self.cut.map(|c| c.w)
    }

    /// The same windows laid out as `layout` (a Conv1d model reads them
    /// channels first); unchanged for rows that are not windows.
    pub fn with_window_layout(&self, layout: WindowLayout) -> Source {
        let mut s = self.clone();
        if let Some(c) = &mut s.cut {
            c.w.layout = layout;
        }
        s
    }

    /// The time steps the windows cover, as rows of one value per channel
    /// with each channel's scaling (the rows themselves for a source that
    /// is not windows).
    pub fn series(&self) -> Source {
        let Some(c) = &self.cut else {
            return self.clone();
        };
        Source {
            store: self.store.clone(),
            start: self.store_row(0),
            rows: c.w.span(self.rows),
            transform: self.transform.clone(),
            cut: None,
            missing: self.missing,
        }
    }
}
