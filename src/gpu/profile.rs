//! GPU time per dispatch, from timestamp queries: what `wgae bench --profile`
//! prints. Each dispatch runs once, in order, in a compute pass of its own
//! with a timestamp written at the pass's start and end, so the work done is
//! exactly what recording the same steps into one pass would do.

use crate::error::Result;
use crate::gpu::device::Device;
use crate::gpu::pipeline::Step;
use crate::gpu::tensor::{map_read, read_back_buffer};

/// Runs `steps` once, in order, and returns each one's GPU time in
/// seconds. An adapter without timestamp queries gets an error saying so.
pub fn profile(dev: &Device, steps: &[&Step]) -> Result<Vec<f64>> {
    dev.require_timestamps("profiling")?;
    // Two queries per dispatch, in query sets of at most wgpu's maximum.
    let per_set = (wgpu::QUERY_SET_MAX_QUERIES / 2) as usize;
    let period_s = f64::from(dev.queue.get_timestamp_period()) * 1e-9;
    let mut out = Vec::with_capacity(steps.len());
    for chunk in steps.chunks(per_set) {
        let queries = 2 * chunk.len() as u32;
        let bytes = u64::from(queries) * 8;
        let staging = dev.scoped("profiling dispatches", || {
            let set = dev.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("wgae profile"),
                ty: wgpu::QueryType::Timestamp,
                count: queries,
            });
            let resolve = dev.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("wgae profile resolve"),
                size: bytes,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let staging = read_back_buffer(dev, "wgae profile read-back", bytes);
            let mut enc = dev
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("wgae profile"),
                });
            for (i, step) in chunk.iter().enumerate() {
                let i = 2 * i as u32;
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(step.label()),
                    timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                        query_set: &set,
                        beginning_of_pass_write_index: Some(i),
                        end_of_pass_write_index: Some(i + 1),
                    }),
                });
                step.record(&mut pass);
            }
            enc.resolve_query_set(&set, 0..queries, &resolve, 0);
            enc.copy_buffer_to_buffer(&resolve, 0, &staging, 0, bytes);
            dev.queue.submit([enc.finish()]);
            staging
        })?;
        let ticks: Vec<u64> = map_read(dev, &staging)?;
        out.extend(
            ticks
                .chunks(2)
                .map(|t| t[1].saturating_sub(t[0]) as f64 * period_s),
        );
    }
    dev.check()?;
    Ok(out)
}
