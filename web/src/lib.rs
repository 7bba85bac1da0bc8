//! wgae in the browser: the JavaScript API (`Model`, `gpuInfo`,
//! `runChecks`), built with wasm-bindgen for `--target web`, over the same
//! engine, kernels and model files as the CLI and Python. Every call that
//! touches the GPU is async (a browser's thread cannot wait for it).
//!
//! [`checks`] holds the kernel checks the test page runs; they build and
//! run natively too (`native-checks`), for the comparison.

pub mod checks;

#[cfg(target_arch = "wasm32")]
mod gpu;
#[cfg(target_arch = "wasm32")]
mod model;

/// A Rust panic reaches the console with its message (not "unreachable").
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}
