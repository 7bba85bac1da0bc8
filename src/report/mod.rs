//! Pictures: image grids (originals above reconstructions, samples).

use std::path::Path;

use crate::error::{Error, Result};

mod series;
pub use series::{save_series_plot, SeriesView};

/// Writes square grayscale images (values in [0, 1], `side` x `side` each) as
/// a grid PNG with `cols` per row, each image scaled up `zoom` times and
/// separated by a one-pixel gap (see [`save_picture_grid`]).
pub fn save_grid(
    path: &Path,
    images: &[&[f32]],
    side: usize,
    cols: usize,
    zoom: usize,
) -> Result<()> {
    save_picture_grid(path, images, Picture::gray(side, side), cols, zoom)
}

/// How a sample's values make a picture: `h` x `w` pixels, gray or RGB,
/// with RGB values interleaved per pixel (`[h, w, 3]`) or channels first
/// (`[3, h, w]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Picture {
    pub h: usize,
    pub w: usize,
    pub rgb: bool,
    pub channels_first: bool,
}

impl Picture {
    /// The picture of samples stored with `dims` (`[h, w]`, `[h, w, 1|3]`,
    /// `[1|3, h, w]`), or of `cols` values making a square gray image when
    /// there are no dims; `None` when they are not an image.
    pub fn of(dims: Option<&[usize]>, cols: usize) -> Option<Picture> {
        let gray = Picture::gray;
        let p = match dims {
            Some(&[h, w]) | Some(&[h, w, 1]) | Some(&[1, h, w]) => gray(h, w),
            Some(&[h, w, 3]) => Picture {
                rgb: true,
                ..gray(h, w)
            },
            Some(&[3, h, w]) => Picture {
                rgb: true,
                channels_first: true,
                ..gray(h, w)
            },
            _ => {
                let s = square_side(cols)?;
                gray(s, s)
            }
        };
        (p.values() == cols && p.h > 0 && p.w > 0).then_some(p)
    }

    /// A gray picture of `h` x `w` pixels.
    pub fn gray(h: usize, w: usize) -> Picture {
        Picture {
            h,
            w,
            rgb: false,
            channels_first: false,
        }
    }

    /// Values per sample.
    pub fn values(&self) -> usize {
        self.h * self.w * if self.rgb { 3 } else { 1 }
    }

    /// Pixel (x, y) of `img` as RGB bytes.
    fn pixel(&self, img: &[f32], x: usize, y: usize) -> [u8; 3] {
        let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        if !self.rgb {
            let g = byte(img[y * self.w + x]);
            return [g, g, g];
        }
        let at = |c: usize| {
            if self.channels_first {
                img[(c * self.h + y) * self.w + x]
            } else {
                img[(y * self.w + x) * 3 + c]
            }
        };
        [byte(at(0)), byte(at(1)), byte(at(2))]
    }
}

/// Writes images shaped `pic` (values in [0, 1]) as a grid PNG with `cols`
/// per row, each scaled up `zoom` times and separated by a one-pixel gap.
pub fn save_picture_grid(
    path: &Path,
    images: &[&[f32]],
    pic: Picture,
    cols: usize,
    zoom: usize,
) -> Result<()> {
    if images.is_empty() || cols == 0 {
        return Err(Error::InvalidArgument(
            "an image grid needs at least one image and one column".into(),
        ));
    }
    let rows = images.len().div_ceil(cols);
    let (cw, ch) = (pic.w * zoom + 1, pic.h * zoom + 1);
    let (w, h) = (cols * cw + 1, rows * ch + 1);
    let mut img = image::RgbImage::from_pixel(w as u32, h as u32, image::Rgb([64, 64, 64]));
    for (k, im) in images.iter().enumerate() {
        if im.len() != pic.values() {
            return Err(Error::InvalidArgument(format!(
                "image {k} has {} values, not {}x{}{}",
                im.len(),
                pic.h,
                pic.w,
                if pic.rgb { "x3" } else { "" }
            )));
        }
        let (ox, oy) = ((k % cols) * cw + 1, (k / cols) * ch + 1);
        for y in 0..pic.h * zoom {
            for x in 0..pic.w * zoom {
                let c = pic.pixel(im, x / zoom, y / zoom);
                img.put_pixel((ox + x) as u32, (oy + y) as u32, image::Rgb(c));
            }
        }
    }
    save_png(path, &image::DynamicImage::from(img))
}

/// Originals above their reconstructions, shaped `pic`: rows of up to 10 pairs.
pub fn save_picture_pairs(
    path: &Path,
    originals: &[f32],
    recon: &[f32],
    pic: Picture,
    n: usize,
) -> Result<()> {
    let d = pic.values();
    let n = n.min(originals.len() / d).min(recon.len() / d);
    let per_row = n.clamp(1, 10);
    let mut images: Vec<&[f32]> = Vec::new();
    for start in (0..n).step_by(per_row) {
        let end = (start + per_row).min(n);
        for src in [originals, recon] {
            for i in start..per_row + start {
                // Pad a short last row with the first image so the grid stays aligned.
                let k = if i < end { i } else { start };
                images.push(&src[k * d..(k + 1) * d]);
            }
        }
    }
    save_picture_grid(path, &images, pic, per_row, 3)
}

/// Writes a PNG the crash-safe way (see `atomic`): encoded in memory, then
/// written to a temporary file that is synced and renamed into place.
fn save_png(path: &Path, img: &image::DynamicImage) -> Result<()> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| Error::File {
            path: path.to_path_buf(),
            message: format!("cannot encode PNG: {e}"),
        })?;
    crate::atomic::write_atomic(path, bytes.get_ref(), true)
}

/// The side of the square images `cols` features make, if they do.
pub fn square_side(cols: usize) -> Option<usize> {
    let s = (cols as f64).sqrt().round() as usize;
    (s * s == cols).then_some(s)
}

/// Originals above their reconstructions, square gray images: rows of up
/// to 10 pairs (see [`save_picture_pairs`]).
pub fn save_reconstructions(
    path: &Path,
    originals: &[f32],
    recon: &[f32],
    side: usize,
    n: usize,
) -> Result<()> {
    save_picture_pairs(path, originals, recon, Picture::gray(side, side), n)
}

// ------------------------------------------------------------------- plotting

type Rgb = [u8; 3];

/// Ten distinguishable colours (the Tableau palette), one per label.
pub const PALETTE: [Rgb; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

struct Canvas {
    img: image::RgbImage,
}

impl Canvas {
    fn new(w: u32, h: u32) -> Self {
        Self {
            img: image::RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255])),
        }
    }

    fn put(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as u32) < self.img.width() && (y as u32) < self.img.height() {
            self.img.put_pixel(x as u32, y as u32, image::Rgb(c));
        }
    }

    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: Rgb, width: i64) {
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as i64).max(1);
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let (x, y) = (
                (x0 + t * (x1 - x0)).round() as i64,
                (y0 + t * (y1 - y0)).round() as i64,
            );
            for dx in 0..width {
                for dy in 0..width {
                    self.put(x + dx - width / 2, y + dy - width / 2, c);
                }
            }
        }
    }

    fn dot(&mut self, x: f64, y: f64, r: i64, c: Rgb) {
        let (cx, cy) = (x.round() as i64, y.round() as i64);
        for dy in -r..=r {
            for dx in -r..=r {
                if dx * dx + dy * dy <= r * r {
                    self.put(cx + dx, cy + dy, c);
                }
            }
        }
    }

    /// 8x8 bitmap text with its top-left corner at (x, y).
    fn text(&mut self, x: i64, y: i64, s: &str, c: Rgb) {
        use font8x8::UnicodeFonts;
        for (k, ch) in s.chars().enumerate() {
            if let Some(glyph) = font8x8::BASIC_FONTS.get(ch) {
                for (row, bits) in glyph.iter().enumerate() {
                    for col in 0..8 {
                        if bits & (1 << col) != 0 {
                            self.put(x + 8 * k as i64 + col, y + row as i64, c);
                        }
                    }
                }
            }
        }
    }

    fn save(&self, path: &Path) -> Result<()> {
        save_png(path, &image::DynamicImage::from(self.img.clone()))
    }
}

fn label(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 || v.abs() < 0.01 {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

/// A plot frame: maps data coordinates into a box with margins for labels.
struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    left: f64,
    top: f64,
    w: f64,
    h: f64,
    /// Whole-number x ticks (epochs).
    x_integer: bool,
}

impl Frame {
    fn map(&self, x: f64, y: f64) -> (f64, f64) {
        let fx = if self.x1 > self.x0 {
            (x - self.x0) / (self.x1 - self.x0)
        } else {
            0.5
        };
        let fy = if self.y1 > self.y0 {
            (y - self.y0) / (self.y1 - self.y0)
        } else {
            0.5
        };
        (self.left + fx * self.w, self.top + (1.0 - fy) * self.h)
    }

    fn draw(&self, c: &mut Canvas, title: &str, xlabel: &str, ylabel: &str) {
        let grey = [90, 90, 90];
        let (l, t, r, b) = (self.left, self.top, self.left + self.w, self.top + self.h);
        for (p, q) in [
            ((l, t), (r, t)),
            ((r, t), (r, b)),
            ((r, b), (l, b)),
            ((l, b), (l, t)),
        ] {
            c.line(p, q, grey, 1);
        }
        c.text(l as i64, 6, title, [0, 0, 0]);
        for (k, v) in [self.y0, (self.y0 + self.y1) / 2.0, self.y1]
            .into_iter()
            .enumerate()
        {
            let (_, y) = self.map(self.x0, v);
            c.line((l - 4.0, y), (l, y), grey, 1);
            let s = label(v);
            c.text(
                l as i64 - 8 * s.len() as i64 - 6,
                y as i64 - 4 + if k == 0 { -4 } else { 0 },
                &s,
                grey,
            );
        }
        for v in [self.x0, (self.x0 + self.x1) / 2.0, self.x1] {
            let v = if self.x_integer { v.round() } else { v };
            let (x, _) = self.map(v, self.y0);
            c.line((x, b), (x, b + 4.0), grey, 1);
            let s = if self.x_integer {
                format!("{v:.0}")
            } else {
                label(v)
            };
            c.text(x as i64 - 4 * s.len() as i64, b as i64 + 8, &s, grey);
        }
        c.text(
            ((l + r) / 2.0) as i64 - 4 * xlabel.len() as i64,
            b as i64 + 24,
            xlabel,
            [0, 0, 0],
        );
        c.text(4, (t - 20.0) as i64, ylabel, [0, 0, 0]);
    }
}

/// Training (and validation) loss per epoch.
pub fn save_loss_curve(path: &Path, train: &[f64], val: Option<&[f64]>, title: &str) -> Result<()> {
    if train.is_empty() {
        return Err(Error::InvalidArgument(
            "a loss curve needs at least one epoch".into(),
        ));
    }
    let all = train
        .iter()
        .chain(val.into_iter().flatten())
        .filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
        (a.min(v), b.max(v))
    });
    let pad = ((hi - lo) * 0.05).max(1e-12);
    let f = Frame {
        x0: 1.0,
        x1: train.len().max(2) as f64,
        y0: (lo - pad).max(0.0),
        y1: hi + pad,
        left: 90.0,
        top: 40.0,
        w: 520.0,
        h: 300.0,
        x_integer: true,
    };
    let mut c = Canvas::new(640, 390);
    f.draw(&mut c, title, "epoch", "loss");
    let mut series = vec![("train", train, PALETTE[0])];
    if let Some(v) = val {
        series.push(("validation", v, PALETTE[1]));
    }
    for (k, (name, ys, col)) in series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = ys
            .iter()
            .enumerate()
            .map(|(i, &y)| f.map(i as f64 + 1.0, y))
            .collect();
        for w in pts.windows(2) {
            c.line(w[0], w[1], *col, 2);
        }
        for &(x, y) in &pts {
            c.dot(x, y, 3, *col);
        }
        let ly = 50 + 14 * k as i64;
        c.line((470.0, ly as f64 + 4.0), (490.0, ly as f64 + 4.0), *col, 2);
        c.text(496, ly, name, [0, 0, 0]);
    }
    c.save(path)
}

/// Points coloured by label (grey without labels), with a legend.
pub fn save_scatter(
    path: &Path,
    points: &[(f32, f32)],
    labels: Option<&[u32]>,
    title: &str,
    axes: (&str, &str),
) -> Result<()> {
    if points.is_empty() {
        return Err(Error::InvalidArgument(
            "a scatter plot needs at least one point".into(),
        ));
    }
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in points {
        x0 = x0.min(f64::from(x));
        x1 = x1.max(f64::from(x));
        y0 = y0.min(f64::from(y));
        y1 = y1.max(f64::from(y));
    }
    let (px, py) = (((x1 - x0) * 0.04).max(1e-9), ((y1 - y0) * 0.04).max(1e-9));
    let f = Frame {
        x0: x0 - px,
        x1: x1 + px,
        y0: y0 - py,
        y1: y1 + py,
        left: 90.0,
        top: 40.0,
        w: 480.0,
        h: 480.0,
        x_integer: false,
    };
    let mut c = Canvas::new(660, 580);
    f.draw(&mut c, title, axes.0, axes.1);
    for (i, &(x, y)) in points.iter().enumerate() {
        let col = labels.map_or([60, 60, 60], |l| PALETTE[l[i] as usize % 10]);
        let (sx, sy) = f.map(f64::from(x), f64::from(y));
        c.dot(sx, sy, 2, col);
    }
    if let Some(l) = labels {
        let mut seen: Vec<u32> = l.to_vec();
        seen.sort_unstable();
        seen.dedup();
        for (k, v) in seen.iter().take(20).enumerate() {
            let ly = 50.0 + 14.0 * k as f64;
            c.dot(590.0, ly + 4.0, 4, PALETTE[*v as usize % 10]);
            c.text(600, ly as i64, &v.to_string(), [0, 0, 0]);
        }
    }
    c.save(path)
}

/// The first two principal components of rows of `cols` values (the rows
/// themselves when there are two columns), by power iteration on the
/// covariance matrix.
pub fn pca_2d(data: &[f32], rows: usize, cols: usize) -> Vec<(f32, f32)> {
    if cols == 2 {
        return data.chunks(2).map(|r| (r[0], r[1])).collect();
    }
    if cols == 1 {
        return data.iter().map(|&v| (v, 0.0)).collect();
    }
    let mut mean = vec![0f64; cols];
    for r in data.chunks(cols) {
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += f64::from(v) / rows as f64;
        }
    }
    let mut cov = vec![0f64; cols * cols];
    for r in data.chunks(cols) {
        for i in 0..cols {
            let di = f64::from(r[i]) - mean[i];
            for j in 0..cols {
                cov[i * cols + j] += di * (f64::from(r[j]) - mean[j]);
            }
        }
    }
    let mut comps: Vec<Vec<f64>> = Vec::new();
    for k in 0..2 {
        let mut v: Vec<f64> = (0..cols)
            .map(|i| 1.0 + (i * (k + 3)) as f64 % 7.0)
            .collect();
        for _ in 0..200 {
            let mut w: Vec<f64> = (0..cols)
                .map(|i| (0..cols).map(|j| cov[i * cols + j] * v[j]).sum())
                .collect();
            for c in &comps {
                let d: f64 = w.iter().zip(c).map(|(a, b)| a * b).sum();
                w.iter_mut().zip(c).for_each(|(a, b)| *a -= d * b);
            }
            let n = w.iter().map(|a| a * a).sum::<f64>().sqrt();
            if n == 0.0 {
                break;
            }
            v = w.into_iter().map(|a| a / n).collect();
        }
        comps.push(v);
    }
    data.chunks(cols)
        .map(|r| {
            let p = |c: &Vec<f64>| {
                r.iter()
                    .zip(c)
                    .zip(&mean)
                    .map(|((&x, cc), m)| (f64::from(x) - m) * cc)
                    .sum::<f64>() as f32
            };
            (p(&comps[0]), p(&comps[1]))
        })
        .collect()
}
