//! Faults are loud: a full disk, a read-only file system, a damaged file and a closed
//! pipe, each met by the real binary on real files. A storage failure stops the run,
//! names the cause and exits 1, leaving the file intact; a closed pipe ends output
//! quietly.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{run_bin as flashsale, stderr_of as stderr};

fn one_sentence(o: &Output) -> String {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
    err
}

/// A mount made for a test, unmounted when dropped (also when the test fails).
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Runs `mount ARGS`; `None` (with the reason printed) where mounting is not allowed.
fn mount(target: &Path, args: &[&str]) -> Option<Mounted> {
    let out = Command::new("mount").args(args).arg(target).output().ok()?;
    if out.status.success() {
        Some(Mounted(target.to_path_buf()))
    } else {
        eprintln!(
            "skipped: cannot mount here ({}); run as root to test this",
            stderr(&out).trim()
        );
        None
    }
}

fn audit_passes(dir: &Path, db: &str) {
    let o = flashsale(dir, &["--db", db, "audit", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

/// A 3 MB tmpfs, filled until a few hundred KB are left: the swarm's own writes fill
/// it. The run stops with "The disk is full", exits 1, and the file is intact.
#[test]
fn a_full_disk_stops_the_run_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let Some(_mounted) = mount(&mnt, &["-t", "tmpfs", "-o", "size=3m", "tmpfs"]) else {
        return;
    };
    let db = "mnt/f.db";
    assert!(
        flashsale(dir.path(), &["--db", db, "init"])
            .status
            .success()
    );
    // Full before the run even opens the file (a clean exit left no WAL behind): the
    // shared-memory file cannot grow, and that is said as what it is.
    let o = flashsale(dir.path(), &["--db", db, "swarm", "--buyers", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    fill_leaving(&mnt.join("all"), &mnt, 0);
    let o = flashsale(dir.path(), &["--db", db, "swarm", "--buyers", "10"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        one_sentence(&o).contains("The disk is full"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_file(mnt.join("all")).unwrap();
    for strategy in ["immediate", "queue", "atomic", "pay-first"] {
        let filler = mnt.join("filler");
        let _ = std::fs::remove_file(&filler);
        fill_leaving(&filler, &mnt, 400_000);
        let o = flashsale(
            dir.path(),
            &[
                "--db",
                db,
                "swarm",
                "--stock",
                "2000",
                "--buyers",
                "4000",
                "--strategy",
                strategy,
            ],
        );
        if o.status.success() {
            // Pay-first writes least: it may fit. Then it must have sold honestly.
            assert_eq!(
                strategy,
                "pay-first",
                "{}",
                String::from_utf8_lossy(&o.stdout)
            );
            continue;
        }
        assert_eq!(o.status.code(), Some(1), "{strategy}: {}", stderr(&o));
        assert!(
            one_sentence(&o).contains("The disk is full"),
            "{strategy}: {}",
            stderr(&o)
        );
        // Completely full: a small run may still fit in the WAL the last one left;
        // if it does not, the same sentence (opening fails before any page is written).
        fill_leaving(&mnt.join("rest"), &mnt, 0);
        let o = flashsale(dir.path(), &["--db", db, "swarm", "--buyers", "10"]);
        if !o.status.success() {
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert!(one_sentence(&o).contains("disk is full"), "{}", stderr(&o));
        }
        let _ = std::fs::remove_file(mnt.join("rest"));
        std::fs::remove_file(&filler).unwrap();
        audit_passes(dir.path(), db);
    }
}

/// Writes zeros to `file` until about `leave` bytes are free on `mnt` (or none).
fn fill_leaving(file: &Path, mnt: &Path, leave: u64) {
    use std::io::Write;
    let free = || {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(mnt)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .and_then(|l| l.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut f = std::fs::File::create(file).unwrap();
    let block = vec![0u8; 4096];
    while free() > leave + 4096 {
        let want = ((free() - leave) / 4096).max(1);
        for _ in 0..want {
            if f.write_all(&block).is_err() {
                return;
            }
        }
        let _ = f.flush();
    }
}

/// A read-only bind mount of the folder: even root cannot write through it.
#[test]
fn a_read_only_file_system_is_named_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (rw, ro) = (dir.path().join("rw"), dir.path().join("ro"));
    std::fs::create_dir(&rw).unwrap();
    std::fs::create_dir(&ro).unwrap();
    assert!(
        flashsale(dir.path(), &["--db", "rw/f.db", "init"])
            .status
            .success()
    );
    let o = flashsale(dir.path(), &["--db", "rw/f.db", "swarm", "--buyers", "5"]);
    assert!(o.status.success());
    let Some(_bind) = mount(&ro, &["--bind", rw.to_str().unwrap()]) else {
        return;
    };
    let remounted = Command::new("mount")
        .args(["-o", "remount,ro,bind"])
        .arg(&ro)
        .status()
        .is_ok_and(|s| s.success());
    if !remounted {
        eprintln!("skipped: cannot remount the bind mount read-only here");
        return;
    }
    let before = std::fs::read(rw.join("f.db")).unwrap();
    for strategy in ["immediate", "queue", "pay-first"] {
        let o = flashsale(
            dir.path(),
            &[
                "--db",
                "ro/f.db",
                "swarm",
                "--stock",
                "50",
                "--buyers",
                "200",
                "--strategy",
                strategy,
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{strategy}: {}", stderr(&o));
        assert!(one_sentence(&o).contains("read-only"), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read(rw.join("f.db")).unwrap(), before);
    audit_passes(dir.path(), "rw/f.db");
}

/// A sale with some history, its WAL folded into the main file, the WAL gone.
fn sale_with_history(dir: &Path) -> PathBuf {
    assert!(flashsale(dir, &["init"]).status.success());
    let o = flashsale(dir, &["swarm", "--stock", "2000", "--buyers", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = dir.join("flashsale.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    path
}

fn integrity(path: &Path) -> String {
    rusqlite::Connection::open(path)
        .and_then(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0)))
        .unwrap_or_else(|e| e.to_string())
}

#[test]
fn a_damaged_file_is_refused_before_writing_and_init_force_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = sale_with_history(dir.path());
    // Three pages in the middle of the file overwritten with garbage.
    let mut bytes = std::fs::read(&path).unwrap();
    let pages = bytes.len() / 4096;
    assert!(pages > 8, "{pages} pages");
    let mut x = 0x2545_f491_u32;
    for page in [pages / 4, pages / 2, pages * 3 / 4] {
        for b in &mut bytes[page * 4096..(page + 1) * 4096] {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x.to_le_bytes()[0];
        }
    }
    std::fs::write(&path, &bytes).unwrap();
    assert_ne!(integrity(&path), "ok", "the damage shows");
    let o = flashsale(dir.path(), &["swarm", "--stock", "500", "--buyers", "100"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(one_sentence(&o).contains("is damaged"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "not a byte written");
    let o = flashsale(dir.path(), &["init", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    audit_passes(dir.path(), "flashsale.db");
}

#[test]
fn a_truncated_file_is_refused_and_init_force_replaces_it_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = sale_with_history(dir.path());
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let o = flashsale(dir.path(), &["swarm", "--buyers", "10"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(one_sentence(&o).contains("is damaged"), "{}", stderr(&o));
    let o = flashsale(dir.path(), &["init", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    audit_passes(dir.path(), "flashsale.db");
}

/// `flashsale audit 2>&1 | head -1` with the reader already gone: no SIGABRT, no
/// SIGPIPE death, no message — exit 0, as `ls | head` does.
#[test]
fn a_closed_pipe_ends_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    assert!(flashsale(dir.path(), &["init"]).status.success());
    let cases: &[&[&str]] = &[
        &["audit"],
        &["audit", "--json"],
        &["swarm", "--buyers", "50", "--stock", "10"],
        &["swarm", "--buyers", "50", "--json"],
        &["lab", "lost-update", "--print"],
        &["lab", "--matrix"],
        &["sweep"],
        &["--help"],
    ];
    for args in cases {
        for _ in 0..3 {
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            let status = Command::new(env!("CARGO_BIN_EXE_flashsale"))
                .current_dir(dir.path())
                .args(*args)
                .stdout(writer.try_clone().unwrap())
                .stderr(writer)
                .stdin(Stdio::null())
                .status()
                .unwrap();
            assert_eq!(status.code(), Some(0), "{args:?}: {status:?}");
        }
    }
}
