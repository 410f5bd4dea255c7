//! Real PostgreSQL and Redis servers for the tests, started from Debian's packages
//! (`postgresql`, `redis-server`, which `.ci/run` installs) in a temporary folder, on unix
//! sockets only, and stopped by PID when the handle drops. Nothing is downloaded and no
//! Docker is involved.
//!
//! PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user
//! (`runuser`), in a folder handed to that user.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to open its socket before the test gives up on it.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The one user the test server asks for a password (`Postgres::password_user`).
pub const PASSWORD_USER: &str = "flashsale_pw";

/// A PostgreSQL server of its own for one test (or one test binary).
pub struct Postgres {
    dir: tempfile::TempDir,
    child: Child,
    /// `postgres://postgres@%2Ftmp%2F...:5432/postgres`: the socket folder as the host.
    pub url: String,
}

/// A Redis server of its own, on a unix socket.
pub struct Redis {
    dir: tempfile::TempDir,
    child: Child,
    /// `redis+unix:///tmp/.../redis.sock`
    pub url: String,
}

/// Where Debian puts PostgreSQL's server programs (they are not on `PATH`).
fn pg_bindir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() && dir.join("postgres").exists() {
            return Some(dir);
        }
    }
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when we are root. `setpriv` execs the
/// program in place, so the child's PID is the server's own and `stop` signals it.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn wait_for(path: &Path, child: &mut Child, what: &str) {
    let start = Instant::now();
    // A connection, not just the file: a server creates its socket file when it binds,
    // a moment before it listens, and a connection in between is refused (a loaded CI
    // machine saw it).
    while std::os::unix::net::UnixStream::connect(path).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before it was ready ({status})");
        }
        assert!(
            start.elapsed() < START_TIMEOUT,
            "{what} did not open {} within {START_TIMEOUT:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Percent-encodes a socket folder for the host part of a URL.
fn encode_path(path: &Path) -> String {
    path.to_string_lossy()
        .replace('%', "%25")
        .replace('/', "%2F")
}

impl Postgres {
    /// Starts a server, or says why not and returns `None` (a machine without Debian's
    /// `postgresql`; CI installs it, so there every test runs). `fsync` stays on: the
    /// tests that kill processes check durability, and the bench measures real commits.
    pub fn start() -> Option<Postgres> {
        let Some(bin) = pg_bindir() else {
            eprintln!("skipped: PostgreSQL is not installed (apt-get install postgresql)");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("flashsale-pg")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown of the server's folder to postgres failed");
        }
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        let out = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .args(["--locale=C.UTF-8"])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Trust on the socket for the tests, except one user that must give a password
        // (the test of a wrong password needs a server that asks for one).
        fs::write(
            data.join("pg_hba.conf"),
            format!("local all {PASSWORD_USER} scram-sha-256\nlocal all all trust\n"),
        )
        .expect("write pg_hba.conf");
        let mut child = as_postgres(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-c", "listen_addresses="])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.path().display()))
            .args(["-c", "max_connections=200", "-c", "shared_buffers=128MB"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        wait_for(&dir.path().join(".s.PGSQL.5432"), &mut child, "postgres");
        let url = format!("postgres://postgres@{}/postgres", encode_path(dir.path()));
        let pg = Postgres { dir, child, url };
        pg.wait_ready();
        Some(pg)
    }

    /// The socket appears before the server accepts logins: ask until it answers.
    fn wait_ready(&self) {
        let start = Instant::now();
        loop {
            let ok = Command::new("psql")
                .arg("-h")
                .arg(self.dir.path())
                .args(["-U", "postgres", "-d", "postgres", "-Atc", "SELECT 1"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            assert!(
                start.elapsed() < START_TIMEOUT,
                "postgres never accepted a login"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A new, empty database on this server, and its URL: one per test, so tests of one
    /// binary can share a server and still run in parallel.
    pub fn database(&self, name: &str) -> String {
        let out = Command::new("createdb")
            .arg("-h")
            .arg(self.dir.path())
            .args(["-U", "postgres", name])
            .output()
            .expect("run createdb");
        assert!(
            out.status.success(),
            "createdb {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!(
            "postgres://postgres@{}/{name}",
            encode_path(self.dir.path())
        )
    }

    /// The URL of a database made earlier by [`Postgres::database`].
    pub fn database_url(&self, name: &str) -> String {
        format!(
            "postgres://postgres@{}/{name}",
            encode_path(self.dir.path())
        )
    }

    /// Creates the user that must log in with `password`, and returns its URL without
    /// a password.
    pub fn password_user(&self, password: &str) -> String {
        self.psql(&format!(
            "CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{password}'"
        ));
        format!(
            "postgres://{PASSWORD_USER}@{}/postgres",
            encode_path(self.dir.path())
        )
    }

    /// Runs one statement as the superuser.
    pub fn psql(&self, sql: &str) {
        let out = Command::new("psql")
            .arg("-h")
            .arg(self.dir.path())
            .args([
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The folder holding the server's socket (`psql -h` takes it).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Redis {
    /// Starts a server on a unix socket, or says why not and returns `None`.
    pub fn start() -> Option<Redis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: Redis is not installed (apt-get install redis-server)");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("flashsale-redis")
            .tempdir()
            .expect("temp dir");
        let socket = dir.path().join("redis.sock");
        let mut child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(&socket)
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        wait_for(&socket, &mut child, "redis-server");
        let url = format!("redis+unix://{}", socket.display());
        Some(Redis { dir, child, url })
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }
}

/// Stops a server by its PID and waits for it: SIGQUIT for PostgreSQL (immediate
/// shutdown; its children go with it), SIGTERM for Redis.
fn stop(child: &mut Child, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Postgres {
    fn drop(&mut self) {
        stop(&mut self.child, "-QUIT");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        stop(&mut self.child, "-TERM");
    }
}
