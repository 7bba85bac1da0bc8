//! The browser's kernel checks on the native adapter (lavapipe in CI):
//! prints the report as JSON (or writes it to the file named by the first
//! argument), for `web/run.mjs` to set beside the browser's.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    let ctx = match wgae::GpuContext::new() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("native-checks: no GPU adapter: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let report = pollster::block_on(wgae_web::checks::run_all(&ctx, |c| {
        eprintln!("{} {}", if c.ok { "ok  " } else { "FAIL" }, c.name);
    }));
    let json = serde_json::to_string_pretty(&report).expect("a report serializes");
    match std::env::args().nth(1) {
        Some(path) => {
            if let Err(e) = std::fs::write(&path, json) {
                eprintln!("native-checks: cannot write {path}: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
        None => println!("{json}"),
    }
    if report.passed {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
