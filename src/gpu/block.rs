//! The one place the device layer waits: its core is async (adapter,
//! device, read-back), as a browser needs it, and the blocking API that the
//! CLI, the tests and Python use runs those futures to completion here. In
//! a browser (wasm32) nothing may block: a future that is not ready at once
//! is reported as an error that points at the async API instead.

use std::future::Future;

use crate::error::{Error, Result};

/// `f`'s output, waiting for it (natively).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn now<F: Future>(f: F) -> Option<F::Output> {
    Some(pollster::block_on(f))
}

/// `f`'s output if it is ready without waiting (a browser's thread cannot
/// wait: the GPU answers on its event loop).
#[cfg(target_arch = "wasm32")]
pub(crate) fn now<F: Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// The result of `f` (`what` names the operation when it cannot be had).
pub(crate) fn resolve<T>(what: &str, f: impl Future<Output = Result<T>>) -> Result<T> {
    now(f).unwrap_or_else(|| {
        Err(Error::Internal {
            op: what.into(),
            message: "a browser's thread cannot wait for the GPU; use the async API \
                      (GpuContext::with_options_async, read_async)"
                .into(),
        })
    })
}
