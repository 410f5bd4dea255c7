//! Looking at a database file before anything writes to it: whose it is — from its
//! header alone, so a damaged file of ours is still recognised (and `init --force` may
//! replace it) — and whether SQLite's quick check finds it intact (a damaged file is
//! refused before a swarm sells into it).

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::Error;
use crate::sql::Result;

/// What a file's first 100 bytes (SQLite's header) say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Zero bytes: nothing to lose, nothing to check.
    Empty,
    /// An SQLite file with our schema version in its header (intact or not).
    Ours { version: i64 },
    /// An SQLite file with no schema version and no tables yet.
    Blank,
}

/// Whose the file at `path` is, refusing what is not ours: not SQLite, another
/// program's database, or a newer flashsale's. Reads only.
pub fn probe(path: &Path) -> Result<FileKind> {
    let mut header = Vec::with_capacity(100);
    std::fs::File::open(path)
        .and_then(|f| f.take(100).read_to_end(&mut header))
        .map_err(|e| Error::CannotOpen {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
    if header.is_empty() {
        return Ok(FileKind::Empty);
    }
    if header.len() < 100 || !header.starts_with(b"SQLite format 3\0") {
        return Err(Error::NotADatabase {
            path: path.to_path_buf(),
            why: "the file is not an SQLite database".into(),
        }
        .into());
    }
    // The header's user_version (offset 60, big-endian): where our migrations count.
    let version = i64::from(u32::from_be_bytes([
        header[60], header[61], header[62], header[63],
    ]));
    if (1..=super::SCHEMA_VERSION).contains(&version) {
        return Ok(FileKind::Ours { version });
    }
    // Unversioned or newer by the header: let the schema say whose it is (through the
    // WAL, where a version not yet checkpointed lives).
    let conn = read_only(path)?;
    Ok(match super::migrate::check_ours(&conn, path)? {
        0 => FileKind::Blank,
        version => FileKind::Ours { version },
    })
}

/// Refuses a file that is not ours or that SQLite's quick check finds damaged, before
/// a byte of it is written. (`quick_check` reads every page but skips the index
/// cross-checks of `integrity_check`: overwritten pages show, at a fraction of the cost.)
pub fn check_before_writing(path: &Path) -> Result<()> {
    if !path.exists() || matches!(probe(path)?, FileKind::Empty | FileKind::Blank) {
        return Ok(());
    }
    // Opening for writing changes nothing, and tells a read-only file system (which
    // root cannot write either) from a damaged file.
    if let Err(e) = std::fs::OpenOptions::new().write(true).open(path) {
        use std::io::ErrorKind::{PermissionDenied, ReadOnlyFilesystem};
        if matches!(e.kind(), ReadOnlyFilesystem | PermissionDenied) {
            return Err(Error::ReadOnly {
                path: path.to_path_buf(),
                why: format!(
                    "{e}; make it writable, or use `flashsale tui --read-only` to watch it"
                ),
            }
            .into());
        }
    }
    // SQLite's report spans lines ("*** in database main ***\nTree 11 page 161: …"):
    // one sentence keeps the gist.
    let damaged = |why: String| Error::Damaged {
        path: path.to_path_buf(),
        why: why
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("***"))
            .collect::<Vec<_>>()
            .join("; "),
    };
    let conn = read_only(path)?;
    let verdict: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                damaged(e.to_string())
            }
            // Not the file's fault (a full disk, a failing one): say that instead.
            _ => crate::sql::sqlite_error(e),
        })?;
    if verdict != "ok" {
        return Err(damaged(verdict).into());
    }
    Ok(())
}

fn read_only(path: &Path) -> Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| super::classify_open(path, e).into())
}
