//! Training inside a program that already owns a wgpu Device: wgae wraps the
//! device and queue, leaves the program's error handlers alone, and its
//! results stay in GPU buffers the program can use.
//!
//!     cargo run --release --example embed_existing_device

#[path = "common/mod.rs"]
mod common;

use wgae::{GpuContext, ModelConfig, TrainConfig, Trainer};

fn main() -> wgae::Result<()> {
    // The host program's own setup, as any wgpu program does it.
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .map_err(|e| wgae::Error::NoAdapter(e.to_string()))?;
    let (device, queue) = pollster::block_on(
        adapter.request_device(&wgpu::DeviceDescriptor::default()),
    )
    .map_err(|e| wgae::Error::RequestDevice {
        adapter: adapter.get_info().name,
        message: e.to_string(),
    })?;
    device.on_uncaptured_error(std::sync::Arc::new(|e| eprintln!("host program saw: {e}")));

    // wgae on the same device.
    let ctx = GpuContext::from_device(device.clone(), queue.clone())?;
    println!("training on the host's device: {}", ctx.adapter_name());
    let data = common::digits(2000);
    let t = TrainConfig {
        epochs: common::epochs(3),
        batch_size: 128,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&ctx, &ModelConfig::dense(784, &[32]), &t, &data, None)?;
    trainer.fit(common::print_epoch, |_| {})?;

    // The weights are a wgpu::Buffer on the host's device: bind them in the
    // host's own pipelines, or read them back.
    let params = trainer.model().params();
    println!(
        "parameters: {} floats in a {}-byte buffer at offset {}, usage {:?}",
        params.len(),
        params.buffer().size(),
        params.offset(),
        params.buffer().usage()
    );
    let codes = trainer.model().encode(&data.take(3))?;
    println!("first code: {:?}", &codes[..8]);
    Ok(())
}
