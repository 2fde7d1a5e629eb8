/*! The message store (`.team/runtime/team.db`): messages, results, result watchers, scheduled
events, the leader notification log and agent health, in SQLite (WAL, `synchronous=NORMAL`: a
committed row survives any process crash; a busy timeout instead of "database is locked").

The schema is versioned by `PRAGMA user_version` with forward migrations, applied in order in
one transaction each. Every table carries the team it belongs to. Queries use prepared, cached
statements and indexes; no table is scanned on a hot path.
*/

mod messages;
mod migrations;
mod results;

pub use messages::{Message, MessageStatus, NewMessage};
pub use results::ResultRow;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::workspace::Workspace;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the message store {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "the message store {path} was written by a newer team-agent (schema {found}, this one knows up to {known}); upgrade team-agent"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
}

/// A connection to a workspace's store.
pub struct Store {
    conn: Connection,
    path: String,
    /// The file opened (device, inode), to notice when it was moved aside or replaced.
    file: Option<(u64, u64)>,
}

impl Store {
    /// Opens (creating and migrating) the store of a workspace.
    pub fn open(workspace: &Workspace) -> Result<Self, StoreError> {
        workspace.ensure_dirs().map_err(|e| StoreError::Sqlite {
            path: workspace.database().display().to_string(),
            source: rusqlite::Error::InvalidPath(e.to_string().into()),
        })?;
        Self::open_at(&workspace.database(), migrations::LATEST)
    }

    /// Opens the store at `path`, migrated up to `version` (tests build older stores this way).
    pub fn open_at(path: &Path, version: i64) -> Result<Self, StoreError> {
        let label = path.display().to_string();
        let wrap = |source| StoreError::Sqlite {
            path: label.clone(),
            source,
        };
        let existed = path.exists();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(wrap)?;
        if !existed {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        conn.busy_timeout(Duration::from_secs(30)).map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(wrap)?;
        let mut store = Self {
            conn,
            path: label,
            file: file_id(path),
        };
        migrations::migrate(&mut store.conn, version).map_err(|e| match e {
            migrations::MigrateError::TooNew { found, known } => StoreError::TooNew {
                path: store.path.clone(),
                found,
                known,
            },
            migrations::MigrateError::Sqlite(source) => StoreError::Sqlite {
                path: store.path.clone(),
                source,
            },
        })?;
        Ok(store)
    }

    /// Whether the store's path no longer names the file this connection has open (moved aside
    /// as `doctor` advises for a corrupt store, or replaced): a long-lived holder reopens it.
    pub fn replaced(&self) -> bool {
        file_id(Path::new(&self.path)) != self.file
    }

    /// The schema version of the open store.
    pub fn version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }
}

/// A fresh id: a prefix, the time in microseconds and 24 random bits, so ids sort by creation
/// and two processes creating one in the same microsecond still differ.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 3];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut bytes);
    }
    let micros = chrono::Utc::now().timestamp_micros().max(0) as u64;
    format!(
        "{prefix}_{micros:013x}{:02x}{:02x}{:02x}",
        bytes[0], bytes[1], bytes[2]
    )
}

/// A file's (device, inode), if it exists.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}
