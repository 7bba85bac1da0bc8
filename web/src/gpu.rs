//! The page's one GPU context, opened on first use from the adapter the
//! browser gives, and what it offers (`gpuInfo`).

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wgae::gpu::ContextOptions;
use wgae::GpuContext;

use crate::checks::Adapter;

thread_local! {
    static CONTEXT: RefCell<Option<GpuContext>> = const { RefCell::new(None) };
}

/// The context, opened once (a second call before the first resolves
/// opens its own and keeps the first that finishes).
pub async fn context() -> Result<GpuContext, JsError> {
    if let Some(ctx) = CONTEXT.with(|c| c.borrow().clone()) {
        return Ok(ctx);
    }
    let ctx = GpuContext::with_options_async(&ContextOptions::default())
        .await
        .map_err(|e| {
            JsError::new(&format!(
                "WebGPU is not available here ({e}). wgae needs a browser with WebGPU: \
                 Chrome or Edge 113+, Safari 26+, or Firefox 141+ on Windows"
            ))
        })?;
    Ok(CONTEXT.with(|c| c.borrow_mut().get_or_insert(ctx).clone()))
}

/// The adapter and the limits that matter to wgae, as a plain object.
#[wasm_bindgen(js_name = gpuInfo)]
pub async fn gpu_info() -> Result<JsValue, JsError> {
    let ctx = context().await?;
    to_js(&Adapter::of(&ctx))
}

/// Runs the kernel checks (`checks::run_all`) on the page's adapter;
/// `progress` hears each check as a plain object as it ends. Resolves to
/// the whole report.
#[wasm_bindgen(js_name = runChecks)]
pub async fn run_checks(progress: Option<js_sys::Function>) -> Result<JsValue, JsError> {
    let ctx = context().await?;
    let report = crate::checks::run_all(&ctx, |c| {
        if let (Some(f), Ok(v)) = (&progress, to_js(c)) {
            let _ = f.call1(&JsValue::NULL, &v);
        }
    })
    .await;
    to_js(&report)
}

/// A value as a plain JavaScript object (through JSON: no serde bridge).
pub fn to_js<T: serde::Serialize>(v: &T) -> Result<JsValue, JsError> {
    let text = serde_json::to_string(v).map_err(|e| JsError::new(&e.to_string()))?;
    js_sys::JSON::parse(&text).map_err(|_| JsError::new("a report did not parse as JSON"))
}
