//! Anomaly detection on multichannel sensor data with a 1-D convolutional
//! autoencoder (examples/configs/timeseries.toml): trained on normal windows
//! only, it scores each test window by its reconstruction error, and the
//! injected anomalies (spikes, flatlines, frequency shifts) score high.
//!
//!     cargo run --release --example timeseries_anomaly
//!
//! Synthetic windows of 3 channels x 64 steps (wgae::data::sensors);
//! EPOCHS=... to change the training length.

mod common;

use wgae::data::sensors::{roc_auc, sensor_windows};
use wgae::train::ConfigFile;
use wgae::{GpuContext, Trainer};

fn main() -> wgae::Result<()> {
    let ctx = GpuContext::new()?;
    let file = ConfigFile::from_toml(include_str!("configs/timeseries.toml"))?;
    print!("{}", file.model.summary());
    let train = sensor_windows(2000, 0.0, 1);
    let test = sensor_windows(1000, 0.1, 2);
    let tcfg = wgae::TrainConfig {
        epochs: common::epochs(file.train.epochs),
        ..file.train
    };
    let mut trainer = Trainer::new(&ctx, &file.model, &tcfg, &train, None)?;
    trainer.fit(common::print_epoch, |_| {})?;
    let scores = trainer.model().reconstruction_error(&test)?;
    let labels = test.labels.as_ref().expect("labelled windows");
    let n_anom = labels.iter().filter(|&&l| l == 1).count();
    println!(
        "{} test windows, {n_anom} anomalous: ROC AUC of the reconstruction error {:.3}",
        test.rows,
        roc_auc(&scores, labels)
    );
    Ok(())
}
