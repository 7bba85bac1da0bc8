//! GPU time per dispatch, from timestamp queries: what `wgae bench --profile`
//! prints. Each dispatch runs once, in order, in a compute pass of its own
//! with a timestamp written at the pass's start and end, so the work done is
//! exactly what recording the same steps into one pass would do.

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::ops::Step;

impl GpuContext {
    /// Whether the adapter writes timestamps around compute passes.
    pub fn has_timestamps(&self) -> bool {
        self.features().contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// An error naming the adapter when it has no timestamp queries.
    pub fn require_timestamps(&self, what: &str) -> Result<()> {
        if self.has_timestamps() {
            return Ok(());
        }
        Err(Error::InvalidArgument(format!(
            "{what}: adapter '{}' has no timestamp queries, so GPU time per dispatch cannot be \
             measured here; `wgae bench` without --profile still times whole steps",
            self.adapter_name()
        )))
    }

    /// Runs `steps` once, in order, and returns each one's GPU time in
    /// seconds. An adapter without timestamp queries gets an error saying so.
    pub fn profile(&self, steps: &[&Step]) -> Result<Vec<f64>> {
        self.require_timestamps("profiling")?;
        // Two queries per dispatch, in query sets of at most wgpu's maximum.
        let per_set = (wgpu::QUERY_SET_MAX_QUERIES / 2) as usize;
        let period_s = f64::from(self.queue.get_timestamp_period()) * 1e-9;
        let mut out = Vec::with_capacity(steps.len());
        for chunk in steps.chunks(per_set) {
            let queries = 2 * chunk.len() as u32;
            let bytes = u64::from(queries) * 8;
            let staging = self.scoped("profiling dispatches", || {
                let set = self.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("wgae profile"),
                    ty: wgpu::QueryType::Timestamp,
                    count: queries,
                });
                let resolve = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("wgae profile resolve"),
                    size: bytes,
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                });
                let staging = self.read_back_buffer("wgae profile read-back", bytes);
                let mut enc = self
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
                self.queue.submit([enc.finish()]);
                staging
            })?;
            let ticks: Vec<u64> = self.map_read(&staging)?;
            out.extend(
                ticks
                    .chunks(2)
                    .map(|t| t[1].saturating_sub(t[0]) as f64 * period_s),
            );
        }
        self.check()?;
        Ok(out)
    }
}
