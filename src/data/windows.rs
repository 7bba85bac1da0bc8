//! Windows over one long series: a recording of `steps` time steps of
//! `channels` values each (a CSV with a column per sensor, a 2-D `.npy`
//! (T, F)) seen as samples of `len` consecutive steps, one every `stride`
//! steps. A window is never copied out of the series ahead of time: a
//! [`crate::data::Source`] cuts each as it is read, and a resident
//! training set keeps the series once on the GPU and gathers windows from
//! it (`kernels::gather_chunks` with a row stride of `stride` steps).
//!
//! A window's values are laid out as the model reads them:
//! [`WindowLayout::Time`] `(len, channels)`, step after step, for dense and
//! recurrent models (a recurrent model's `[T, F]` input), or
//! [`WindowLayout::Channels`] `(channels, len)`, channel after channel, for
//! a Conv1d model (channels first, `[F, W]`).

use crate::error::{Error, Result};

/// The order of a window's values in a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowLayout {
    /// `(len, channels)`: each step's channels together.
    Time,
    /// `(channels, len)`: each channel's steps together.
    Channels,
}

impl WindowLayout {
    pub fn name(self) -> &'static str {
        match self {
            WindowLayout::Time => "time",
            WindowLayout::Channels => "channels",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "time" => Some(WindowLayout::Time),
            "channels" => Some(WindowLayout::Channels),
            _ => None,
        }
    }
}

/// Windows of `len` steps, one every `stride` steps, over a series of
/// `channels` values per step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    pub len: usize,
    pub stride: usize,
    pub channels: usize,
    pub layout: WindowLayout,
}

impl Windows {
    /// Checks the sizes: an error names `--window` or `--stride`.
    pub fn new(len: usize, stride: usize, channels: usize, layout: WindowLayout) -> Result<Self> {
        if len == 0 {
            return Err(Error::InvalidArgument(
                "--window 0: a window holds at least one time step".into(),
            ));
        }
        if stride == 0 {
            return Err(Error::InvalidArgument(
                "--stride 0 would repeat the first window for ever; give a stride of 1 or more \
                 (1 cuts a window at every step)"
                    .into(),
            ));
        }
        if channels == 0 {
            return Err(Error::InvalidArgument(
                "a series needs at least one channel".into(),
            ));
        }
        if len
            .checked_mul(channels)
            .is_none_or(|v| v > u32::MAX as usize)
        {
            return Err(Error::InvalidArgument(format!(
                "--window {len} over {channels} channels is too large a sample"
            )));
        }
        Ok(Self {
            len,
            stride,
            channels,
            layout,
        })
    }

    /// The number of windows a series of `steps` steps holds (a last
    /// partial one is left out); an error where the series is shorter than
    /// one window.
    pub fn count(&self, steps: usize) -> Result<usize> {
        if steps < self.len {
            return Err(Error::InvalidArgument(format!(
                "--window {} is longer than the series ({steps} time steps); give a window of \
                 at most {steps} steps",
                self.len
            )));
        }
        Ok((steps - self.len) / self.stride + 1)
    }

    /// Values per window: a sample's width.
    pub fn cols(&self) -> usize {
        self.len * self.channels
    }

    /// The steps `windows` consecutive windows cover.
    pub fn span(&self, windows: usize) -> usize {
        match windows {
            0 => 0,
            n => (n - 1) * self.stride + self.len,
        }
    }

    /// A sample's dimensions in its layout: `[len, channels]` or
    /// `[channels, len]`.
    pub fn dims(&self) -> Vec<usize> {
        match self.layout {
            WindowLayout::Time => vec![self.len, self.channels],
            WindowLayout::Channels => vec![self.channels, self.len],
        }
    }

    /// Where value `c` of a window lies: (its step in the window, its channel).
    pub fn place(&self, c: usize) -> (usize, usize) {
        match self.layout {
            WindowLayout::Time => (c / self.channels, c % self.channels),
            WindowLayout::Channels => (c % self.len, c / self.len),
        }
    }

    /// Per-channel values (a scaling's offsets, say) repeated for every
    /// value of a window.
    pub fn tile(&self, per_channel: &[f32]) -> Vec<f32> {
        (0..self.cols())
            .map(|c| per_channel[self.place(c).1])
            .collect()
    }

    /// The per-channel values of `per_value` (one per value of a window),
    /// which must be the same at every step; `None` otherwise.
    pub fn untile(&self, per_value: &[f32]) -> Option<Vec<f32>> {
        if per_value.len() != self.cols() {
            return None;
        }
        let mut out = vec![f32::NAN; self.channels];
        for (c, &v) in per_value.iter().enumerate() {
            let f = self.place(c).1;
            if out[f].is_nan() {
                out[f] = v;
            } else if out[f].to_bits() != v.to_bits() {
                return None;
            }
        }
        Some(out)
    }

    /// Window `w`'s values (`cols()`) in its layout, from the `len` steps it
    /// covers stored step after step (`steps`, `len * channels` values).
    pub fn arrange(&self, steps: &[f32], out: &mut [f32]) {
        match self.layout {
            WindowLayout::Time => out.copy_from_slice(steps),
            WindowLayout::Channels => {
                for (c, o) in out.iter_mut().enumerate() {
                    let (t, f) = self.place(c);
                    *o = steps[t * self.channels + f];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_places_and_tiles() {
        let w = Windows::new(4, 3, 2, WindowLayout::Time).unwrap();
        assert_eq!(w.count(10).unwrap(), 3);
        assert_eq!(w.count(4).unwrap(), 1);
        assert!(w.count(3).is_err());
        assert_eq!(w.span(3), 10);
        assert_eq!(w.place(5), (2, 1));
        let c = Windows::new(4, 1, 2, WindowLayout::Channels).unwrap();
        assert_eq!(c.place(5), (1, 1));
        let t = c.tile(&[1.0, 2.0]);
        assert_eq!(t, [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
        assert_eq!(c.untile(&t).unwrap(), [1.0, 2.0]);
        assert!(w.untile(&t).is_none());
        let steps: Vec<f32> = (0..8).map(|v| v as f32).collect();
        let mut out = [0.0; 8];
        c.arrange(&steps, &mut out);
        assert_eq!(out, [0.0, 2.0, 4.0, 6.0, 1.0, 3.0, 5.0, 7.0]);
        assert!(Windows::new(0, 1, 1, WindowLayout::Time).is_err());
        assert!(Windows::new(3, 0, 1, WindowLayout::Time).is_err());
    }
}
