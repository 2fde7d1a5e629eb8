//! Advisory file locks (`flock`), released when dropped or when the process dies.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

/// A held lock.
#[derive(Debug)]
pub struct FileLock {
    _held: Flock<File>,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open the lock file {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "another team-agent process holds {path} (waited {waited:?}); try again, or see `team-agent doctor`"
    )]
    Busy { path: PathBuf, waited: Duration },
}

impl FileLock {
    /// Waits up to `timeout` for the exclusive lock on `path`.
    pub fn acquire(path: &Path, timeout: Duration) -> Result<Self, LockError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(path)
                .map_err(|source| LockError::Open {
                    path: path.to_path_buf(),
                    source,
                })?;
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(held) => {
                    return Ok(Self {
                        _held: held,
                        path: path.to_path_buf(),
                    });
                }
                Err((_, _)) if started.elapsed() < timeout => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(_) => {
                    return Err(LockError::Busy {
                        path: path.to_path_buf(),
                        waited: started.elapsed(),
                    });
                }
            }
        }
    }

    /// Takes the lock only if it is free right now.
    pub fn try_acquire(path: &Path) -> Result<Option<Self>, LockError> {
        match Self::acquire(path, Duration::ZERO) {
            Ok(lock) => Ok(Some(lock)),
            Err(LockError::Busy { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
