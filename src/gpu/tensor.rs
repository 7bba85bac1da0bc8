//! Tensors in GPU buffers: a range of 32-bit words (f32, or u32 for indices)
//! inside a storage buffer, and the upload and read-back paths (free
//! functions over the [`Device`]; `GpuContext` offers them as methods).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use wgpu::util::DeviceExt;

use crate::error::{Error, Result};
use crate::gpu::device::Device;

/// A buffer whose bytes count towards the context's live total until the last
/// tensor sharing it is dropped.
#[derive(Debug)]
struct Tracked {
    buffer: wgpu::Buffer,
    bytes: u64,
    live: Arc<AtomicU64>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.live.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// A range of `len` 32-bit words at byte `offset` in a storage buffer. Cloning
/// shares the buffer. A view into a larger arena starts at an offset aligned
/// to the adapter's `min_storage_buffer_offset_alignment`.
#[derive(Clone, Debug)]
pub struct GpuTensor {
    inner: Arc<Tracked>,
    offset: u64,
    len: usize,
}

impl GpuTensor {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.inner.buffer
    }

    /// Byte offset of the first word in [`Self::buffer`].
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn size_bytes(&self) -> u64 {
        self.len as u64 * 4
    }

    /// The words `start .. start + len` of this tensor, sharing its buffer.
    pub fn view(&self, start: usize, len: usize) -> Result<GpuTensor> {
        if len == 0 || start.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(Error::shape(
                "tensor view",
                format!(
                    "words {start}..{} out of a tensor of {}",
                    start.saturating_add(len),
                    self.len
                ),
            ));
        }
        Ok(GpuTensor {
            inner: self.inner.clone(),
            offset: self.offset + start as u64 * 4,
            len,
        })
    }

    pub(crate) fn binding(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &self.inner.buffer,
            offset: self.offset,
            size: std::num::NonZeroU64::new(self.size_bytes()),
        })
    }
}

const STORAGE_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

fn track(dev: &Device, buffer: wgpu::Buffer, len: usize) -> GpuTensor {
    let bytes = buffer.size();
    dev.live_bytes.fetch_add(bytes, Ordering::Relaxed);
    GpuTensor {
        inner: Arc::new(Tracked {
            buffer,
            bytes,
            live: dev.live_bytes.clone(),
        }),
        offset: 0,
        len,
    }
}

/// Bytes in the storage buffers wgae has allocated and not yet freed
/// (tensors, arenas, datasets; not the small uniform buffers of steps).
pub fn live_bytes(dev: &Device) -> u64 {
    dev.live_bytes.load(Ordering::Relaxed)
}

fn check_new_tensor(dev: &Device, op: &'static str, label: &str, len: usize) -> Result<u64> {
    if len == 0 {
        return Err(Error::InvalidArgument(format!(
            "{op}: tensor '{label}' would be empty"
        )));
    }
    let bytes = (len as u64).saturating_mul(4);
    dev.check_binding_size(op, &format!("tensor '{label}' ({len} values)"), bytes)?;
    if let Some(limit) = dev.memory_limit {
        let used = live_bytes(dev);
        if used.saturating_add(bytes) > limit {
            return Err(Error::MemoryBudget {
                what: format!("tensor '{label}' ({len} values)"),
                bytes,
                used,
                limit,
            });
        }
    }
    Ok(bytes)
}

/// A new tensor holding `data` (f32, u32 or any 4-byte Pod).
pub fn upload<T: bytemuck::Pod>(dev: &Device, label: &str, data: &[T]) -> Result<GpuTensor> {
    if std::mem::size_of::<T>() != 4 {
        return Err(Error::InvalidArgument(format!(
            "upload '{label}': elements must be 4 bytes, not {}",
            std::mem::size_of::<T>()
        )));
    }
    check_new_tensor(dev, "upload", label, data.len())?;
    let buffer = dev.scoped(&format!("uploading '{label}'"), || {
        dev.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::cast_slice(data),
                usage: STORAGE_USAGE,
            })
    })?;
    Ok(track(dev, buffer, data.len()))
}

/// A new tensor holding `data` rounded to f16 (round to nearest even),
/// two values per 4-byte word: the operand of the mixed-precision ops.
pub fn upload_f16(dev: &Device, label: &str, data: &[f32]) -> Result<GpuTensor> {
    upload(dev, label, &pack_f16(data))
}

/// Reads `n` f16 values back as f32 (waits for the GPU).
pub fn read_f16(dev: &Device, t: &GpuTensor, n: usize) -> Result<Vec<f32>> {
    let words = read_u32(dev, t)?;
    let halves = words.iter().flat_map(|w| [*w as u16, (*w >> 16) as u16]);
    Ok(halves
        .take(n)
        .map(|h| half::f16::from_bits(h).to_f32())
        .collect())
}

/// A new tensor of `len` zeros.
pub fn zeros(dev: &Device, label: &str, len: usize) -> Result<GpuTensor> {
    let bytes = check_new_tensor(dev, "zeros", label, len)?;
    let buffer = dev.scoped(&format!("allocating '{label}'"), || {
        dev.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage: STORAGE_USAGE,
            mapped_at_creation: false,
        })
    })?;
    Ok(track(dev, buffer, len))
}

/// Overwrites the tensor with `data` (queued; ordered before later submissions).
pub fn write<T: bytemuck::Pod>(dev: &Device, t: &GpuTensor, data: &[T]) -> Result<()> {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    if bytes.len() as u64 != t.size_bytes() {
        return Err(Error::shape(
            "write",
            format!(
                "{} bytes into a tensor of {} bytes",
                bytes.len(),
                t.size_bytes()
            ),
        ));
    }
    dev.scoped("writing a tensor", || {
        dev.queue.write_buffer(&t.inner.buffer, t.offset, bytes)
    })
}

/// Copies the tensor back to the host as f32 (waits for the GPU).
pub fn read(dev: &Device, t: &GpuTensor) -> Result<Vec<f32>> {
    crate::gpu::block::resolve("reading a tensor", read_pod(dev, t))
}

/// [`read`] as a future.
pub async fn read_async(dev: &Device, t: &GpuTensor) -> Result<Vec<f32>> {
    read_pod(dev, t).await
}

/// Copies the tensor back to the host as u32 (waits for the GPU).
pub fn read_u32(dev: &Device, t: &GpuTensor) -> Result<Vec<u32>> {
    crate::gpu::block::resolve("reading a tensor", read_pod(dev, t))
}

async fn read_pod<T: bytemuck::Pod>(dev: &Device, t: &GpuTensor) -> Result<Vec<T>> {
    let size = t.size_bytes();
    let staging = dev.scoped("read-back staging buffer", || {
        let staging = read_back_buffer(dev, "wgae read-back", size);
        let mut enc = dev
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("wgae read-back"),
            });
        enc.copy_buffer_to_buffer(&t.inner.buffer, t.offset, &staging, 0, size);
        dev.queue.submit([enc.finish()]);
        staging
    })?;
    map_read_async(dev, &staging).await
}

/// A buffer for the GPU to copy results into and [`map_read`] to
/// read them from.
pub fn read_back_buffer(dev: &Device, label: &str, size: u64) -> wgpu::Buffer {
    dev.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// Maps a `MAP_READ` buffer once the GPU is done with it and copies it
/// out (waits for the GPU).
pub fn map_read<T: bytemuck::Pod>(dev: &Device, staging: &wgpu::Buffer) -> Result<Vec<T>> {
    crate::gpu::block::resolve("reading back", map_read_async(dev, staging))
}

/// [`map_read`] as a future: natively the device is polled until the
/// GPU is done; in a browser the map resolves on its event loop.
pub async fn map_read_async<T: bytemuck::Pod>(
    dev: &Device,
    staging: &wgpu::Buffer,
) -> Result<Vec<T>> {
    let (tx, rx) = futures_intrusive::channel::shared::oneshot_channel();
    staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    if cfg!(not(target_arch = "wasm32")) {
        dev.wait()?;
    }
    match rx.receive().await {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(Error::Readback(e.to_string())),
        None => return Err(Error::Readback("the map callback never ran".into())),
    }
    let out = {
        let view = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| Error::Readback(e.to_string()))?;
        bytemuck::pod_collect_to_vec(&view)
    };
    staging.unmap();
    Ok(out)
}

/// f32 values rounded to f16 (clamped to +-65504 like the shaders' casts) and
/// packed two per little-endian word (the layout of a WGSL `array<f16>`),
/// padded with a zero to a whole word.
pub fn pack_f16(data: &[f32]) -> Vec<u32> {
    data.chunks(2)
        .map(|c| {
            let h = |v: f32| half::f16::from_f32(v.clamp(-65504.0, 65504.0)).to_bits() as u32;
            let lo = h(c[0]);
            let hi = c.get(1).map_or(0, |&v| h(v));
            lo | (hi << 16)
        })
        .collect()
}
