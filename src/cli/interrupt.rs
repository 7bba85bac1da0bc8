//! Ctrl-C for every command. The first press sets a flag that the
//! command's work checks between blocks (training between steps), so it
//! stops cleanly: its temporaries are removed, it says what was kept, and
//! it exits 130. A command that is not training also quits by itself when
//! its work has not stopped within a second; a second press quits at once.
//! Either quick quit removes every temporary first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// The flag the first Ctrl-C sets.
pub fn flag() -> Arc<AtomicBool> {
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone()
}

/// Installs the handler. `grace`: how long the work may take to stop
/// before the process quits by itself (None: it waits, as training does
/// to save the last whole epoch). `first`: what the first press prints;
/// `quit`: what a quick quit says was kept.
pub fn install(grace: Option<Duration>, first: &'static str, quit: &'static str) {
    let flag = flag();
    // Only one handler per process; a failure leaves the default action.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            quit_now(quit);
        }
        eprintln!("\n{first}");
        if let Some(g) = grace {
            std::thread::sleep(g);
            quit_now(quit);
        }
    });
}

/// Removes this process's temporaries, says what was kept, and exits 130.
fn quit_now(kept: &str) -> ! {
    wgae::atomic::abandon_all();
    eprintln!("interrupted: stopped by Ctrl-C; {kept}");
    std::process::exit(130);
}

/// Whether Ctrl-C was pressed.
pub fn stopped() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// An error after Ctrl-C, saying that `out` was not written (its
/// temporary goes when the writer is dropped).
pub fn check(out: &std::path::Path) -> wgae::Result<()> {
    if stopped() {
        return Err(stopped_before(out));
    }
    Ok(())
}

/// The error of a command stopped by Ctrl-C before it wrote `out`.
pub fn stopped_before(out: &std::path::Path) -> wgae::Error {
    wgae::Error::Interrupted(format!(
        "stopped by Ctrl-C; nothing was written ({} {})",
        out.display(),
        if out.exists() {
            "keeps what it held"
        } else {
            "was not made"
        }
    ))
}

/// The grace period of commands other than training: with the quit
/// itself, they stop within a second.
pub const GRACE: Duration = Duration::from_millis(750);
