//! Pictures: image grids (originals above reconstructions, samples).

use std::path::Path;

use crate::error::{Error, Result};

/// Writes square grayscale images (values in [0, 1], `side` x `side` each) as
/// a grid PNG with `cols` per row, each image scaled up `zoom` times and
/// separated by a one-pixel gap.
pub fn save_grid(
    path: &Path,
    images: &[&[f32]],
    side: usize,
    cols: usize,
    zoom: usize,
) -> Result<()> {
    if images.is_empty() || cols == 0 {
        return Err(Error::InvalidArgument(
            "an image grid needs at least one image and one column".into(),
        ));
    }
    let rows = images.len().div_ceil(cols);
    let cell = side * zoom + 1;
    let (w, h) = (cols * cell + 1, rows * cell + 1);
    let mut img = image::GrayImage::from_pixel(w as u32, h as u32, image::Luma([64]));
    for (k, im) in images.iter().enumerate() {
        if im.len() != side * side {
            return Err(Error::InvalidArgument(format!(
                "image {k} has {} values, not {side}x{side}",
                im.len()
            )));
        }
        let (ox, oy) = ((k % cols) * cell + 1, (k / cols) * cell + 1);
        for y in 0..side * zoom {
            for x in 0..side * zoom {
                let v = im[(y / zoom) * side + x / zoom];
                let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                img.put_pixel((ox + x) as u32, (oy + y) as u32, image::Luma([g]));
            }
        }
    }
    img.save(path).map_err(|e| Error::File {
        path: path.to_path_buf(),
        message: format!("cannot write PNG: {e}"),
    })
}
