//! Files written so that a crash never leaves a torn one: each goes to a
//! temporary file in the same folder, is synced, and is renamed into place
//! (the old file or the new one survives, never a mix); outputs are
//! checked before any work; the temporaries of killed writes are swept.
//! Every file wgae writes goes through here: models, checkpoints, codes,
//! scores, pictures, histories.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// The temporaries this process has open, and whether they were abandoned
/// (a quit that cannot wait for the writers: Ctrl-C).
static LIVE: Mutex<(Vec<PathBuf>, bool)> = Mutex::new((Vec::new(), false));

fn live() -> std::sync::MutexGuard<'static, (Vec<PathBuf>, bool)> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records a temporary file of this process, for [`abandon_all`].
pub fn track(tmp: &Path) {
    live().0.push(tmp.to_path_buf());
}

/// Forgets a temporary (renamed into place, or removed).
pub fn untrack(tmp: &Path) {
    live().0.retain(|p| p != tmp);
}

/// Removes every temporary this process has open and makes every later
/// commit fail: for a process about to exit at once (a second Ctrl-C, or
/// one its work did not answer in time). A rename under way finishes
/// first. Returns how many were removed.
pub fn abandon_all() -> usize {
    let mut l = live();
    l.1 = true;
    let n = l.0.len();
    for p in l.0.drain(..) {
        let _ = std::fs::remove_file(p);
    }
    n
}

fn file_err(path: &Path, message: impl Into<String>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Checks, before any work, that `path` can take a file wgae writes: an
/// existing file only with `force`; never a folder, a device, a pipe or a
/// dangling symbolic link; and a folder that exists and can be written in.
pub fn check_writable(path: &Path, force: bool) -> Result<()> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        let target = if meta.file_type().is_symlink() {
            std::fs::metadata(path).map_err(|_| {
                file_err(
                    path,
                    "is a symbolic link to nothing; remove it or choose another name",
                )
            })?
        } else {
            meta
        };
        if target.is_dir() {
            return Err(file_err(path, "is a folder; give a file name"));
        }
        if !target.is_file() {
            return Err(file_err(
                path,
                "is not a regular file (a device, a pipe or a socket); wgae writes regular \
                 files only",
            ));
        }
        if !force {
            return Err(file_err(
                path,
                "already exists; use `force` to overwrite it",
            ));
        }
    }
    let dir = folder_of(path);
    if !dir.is_dir() {
        return Err(file_err(
            path,
            format!("the folder {} does not exist", dir.display()),
        ));
    }
    // Can a file be made there? (A read-only folder says so now, not after
    // hours of training.) The probe has the name of this process's
    // temporary, so that a kill before it is removed leaves nothing that the
    // next write does not clear.
    let name = path
        .file_name()
        .map_or_else(|| "wgae".into(), |n| n.to_string_lossy());
    let probe = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(file_err(
            path,
            format!("cannot write in the folder {}: {e}", dir.display()),
        )),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder,
/// flushed to disk before it is renamed into place, so a crash leaves the
/// old file or the new one, never a torn one. A symbolic link is followed:
/// its target is replaced, not the link.
pub fn write_atomic(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    let mut f = AtomicFile::create(path, force)?;
    f.write(bytes)?;
    f.commit()
}

/// A file written piece by piece (codes of a large input, block by block)
/// with [`write_atomic`]'s guarantee: the pieces go to a temporary file in
/// the same folder, which [`AtomicFile::commit`] syncs and renames into
/// place. Until then `path` keeps what it held; an error (a full disk) or
/// a drop without commit removes the temporary.
pub struct AtomicFile {
    path: PathBuf,
    real: PathBuf,
    tmp: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl AtomicFile {
    /// Checks `path` as [`check_writable`] does and opens the temporary.
    pub fn create(path: &Path, force: bool) -> Result<Self> {
        check_writable(path, force)?;
        let real = if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::canonicalize(path).map_err(|e| file_err(path, format!("cannot write: {e}")))?
        } else {
            path.to_path_buf()
        };
        let name = real.file_name().and_then(|n| n.to_str()).unwrap_or("wgae");
        remove_stale_temporaries(&real, name);
        let mut tmp = real.clone();
        tmp.set_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = std::fs::File::create(&tmp)
            .map_err(|e| file_err(path, format!("cannot write: {e}")))?;
        track(&tmp);
        Ok(Self {
            path: path.to_path_buf(),
            real,
            tmp,
            file: Some(std::io::BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Appends `bytes`; an error removes the temporary and names the file.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        let Some(f) = self.file.as_mut() else {
            return Err(file_err(&self.path, "cannot write: the file was abandoned"));
        };
        f.write_all(bytes).map_err(|e| self.fail(e))
    }

    fn fail(&mut self, e: std::io::Error) -> Error {
        self.file = None;
        let _ = std::fs::remove_file(&self.tmp);
        untrack(&self.tmp);
        let hint = if e.raw_os_error() == Some(28) {
            " (the disk is full; nothing was written there, and the file it would replace is \
             untouched: free space and run again)"
        } else {
            ""
        };
        file_err(&self.path, format!("cannot write: {e}{hint}"))
    }

    /// Overwrites bytes already written at `offset` (a header whose sizes
    /// were not known when it was written), then goes on appending.
    pub fn write_at(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        let Some(f) = self.file.as_mut() else {
            return Err(file_err(&self.path, "cannot write: the file was abandoned"));
        };
        let done = (|| -> std::io::Result<()> {
            f.flush()?;
            let inner = f.get_mut();
            inner.seek(SeekFrom::Start(offset))?;
            inner.write_all(bytes)?;
            inner.seek(SeekFrom::End(0))?;
            Ok(())
        })();
        done.map_err(|e| self.fail(e))
    }

    /// Syncs the temporary and renames it into place (and syncs the folder,
    /// so that the rename reaches the disk too).
    pub fn commit(mut self) -> Result<()> {
        let Some(f) = self.file.take() else {
            return Err(file_err(&self.path, "cannot write: the file was abandoned"));
        };
        let done = (|| -> std::io::Result<()> {
            // Closed before the rename.
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            // Under the lock, so that a quit removing the temporaries
            // comes wholly before or after the rename.
            let mut l = live();
            if l.1 {
                return Err(std::io::Error::other("abandoned: the process is quitting"));
            }
            std::fs::rename(&self.tmp, &self.real)?;
            l.0.retain(|p| p != &self.tmp);
            drop(l);
            if let Some(dir) = self.real.parent().filter(|d| !d.as_os_str().is_empty()) {
                if let Ok(d) = std::fs::File::open(dir) {
                    let _ = d.sync_all();
                }
            }
            Ok(())
        })();
        done.map_err(|e| self.fail(e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
            untrack(&self.tmp);
        }
    }
}

/// The folder a file is (or will be) in: its parent, or `.` for a bare name.
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Removes the temporaries that a killed earlier run left beside `real`
/// (`.NAME.tmp-PID` of a process that no longer exists).
fn remove_stale_temporaries(real: &Path, name: &str) {
    let dir = folder_of(real);
    // Without /proc, whether a process lives is unknown: leave them be.
    if !Path::new("/proc").is_dir() {
        return;
    }
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(pid) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        if pid != std::process::id() && !alive {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
