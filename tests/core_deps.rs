//! flashsale-core names no storage, no terminal, no network and no command line: the
//! stores and front ends depend on it, never the other way round. This fails the build
//! the day one of them becomes its dependency (directly or through another crate).

use std::process::Command;

/// What core must never depend on (issue 9: the crate boundary).
const FORBIDDEN: [&str; 16] = [
    "rusqlite",
    "r2d2",
    "r2d2_sqlite",
    "postgres",
    "tokio-postgres",
    "r2d2_postgres",
    "redis",
    "ratatui",
    "crossterm",
    "clap",
    "axum",
    "hyper",
    "tokio",
    "indicatif",
    "tower",
    "ureq",
];

#[test]
fn core_depends_on_no_store_and_no_front_end() {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-p", "flashsale-core", "-e", "normal"])
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.contains(&"flashsale-core"), "{tree}");
    let found: Vec<&&str> = FORBIDDEN.iter().filter(|f| names.contains(f)).collect();
    assert!(
        found.is_empty(),
        "flashsale-core depends on {found:?}:\n{tree}"
    );
}
