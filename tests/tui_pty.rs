//! The real binary in a pseudo-terminal, as a user runs it: the console draws its
//! panels, opens help, survives a resize to 10×3 and back, quits on `q` (and on SIGTERM)
//! with exit code 0, and leaves the terminal as it found it (alternate screen left,
//! mouse reporting off). Needs no terminal of its own: the pty is one, so it runs in CI
//! with no stdin.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod http_support;

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

struct Session {
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    parser: Arc<Mutex<vt100::Parser>>,
    /// Every byte the console wrote, to check how it left the terminal.
    raw: Arc<Mutex<Vec<u8>>>,
    _dir: tempfile::TempDir,
}

fn size(cols: u16, rows: u16) -> PtySize {
    PtySize {
        rows,
        cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

impl Session {
    fn start(args: &[&str]) -> Session {
        Self::start_with(args, &[])
    }

    fn start_with(args: &[&str], env: &[(&str, &str)]) -> Session {
        Self::start_on(tempfile::tempdir().unwrap(), args, env)
    }

    /// The console on `dir/flashsale.db`, which may already hold a sale.
    fn start_on(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Session {
        let pty = native_pty_system();
        let pair = pty.openpty(size(100, 30)).unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_flashsale"));
        cmd.arg("--db");
        cmd.arg(dir.path().join("flashsale.db"));
        cmd.arg("--synchronous");
        cmd.arg("normal");
        for a in args {
            cmd.arg(a);
        }
        cmd.cwd(dir.path());
        cmd.env("TERM", "xterm-256color");
        // The console's log goes to the temp folder: keep it in ours.
        cmd.env("TMPDIR", dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            30.try_into().unwrap(),
            100.try_into().unwrap(),
            0,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        {
            let parser = Arc::clone(&parser);
            let raw = Arc::clone(&raw);
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    parser.lock().unwrap().process(&buf[..n]);
                    raw.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        Session {
            master: pair.master,
            writer,
            child,
            parser,
            raw,
            _dir: dir,
        }
    }

    fn db(&self) -> std::path::PathBuf {
        self._dir.path().join("flashsale.db")
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} never appeared; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, bytes: &str) {
        self.writer.write_all(bytes.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    fn resize(&self, cols: u16, rows: u16) {
        self.parser
            .lock()
            .unwrap()
            .set_size(rows.try_into().unwrap(), cols.try_into().unwrap());
        self.master.resize(size(cols, rows)).unwrap();
    }

    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader take the last bytes.
                std::thread::sleep(Duration::from_millis(200));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the console did not exit; the screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned()
    }

    fn assert_terminal_restored(&self) {
        self.assert_screen_left();
        let text = self.output();
        let after_leaving = &text[text.rfind("\x1b[?1049l").unwrap_or(0)..];
        assert!(
            !after_leaving.contains("panicked") && !after_leaving.contains("error"),
            "something was printed on the way out: {after_leaving:?}"
        );
    }

    fn assert_screen_left(&self) {
        let parser = self.parser.lock().unwrap();
        assert!(
            !parser.screen().alternate_screen(),
            "still on the alternate screen"
        );
        let raw = self.raw.lock().unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(
            text.contains("\x1b[?1049h"),
            "never entered the alternate screen"
        );
        assert!(
            text.contains("\x1b[?1049l"),
            "never left the alternate screen"
        );
        assert!(text.contains("\x1b[?1000l"), "mouse reporting left on");
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}

#[test]
fn the_console_draws_resizes_helps_and_quits_cleanly() {
    let mut s = Session::start(&[]);
    let screen = s.wait_for("Active holds");
    for panel in [
        "Sale",
        "Storefront",
        "Stock over time",
        "Metrics",
        "Orders",
        "SOLD",
    ] {
        assert!(screen.contains(panel), "no {panel:?} on screen:\n{screen}");
    }

    s.send("?");
    s.wait_for("Everywhere");
    s.send("?");
    s.wait_for("Active holds");

    s.resize(10, 3);
    s.wait_for("too small");
    s.resize(100, 30);
    s.wait_for("Active holds");

    s.send("2");
    s.wait_for("Your cart");
    s.send("3");
    s.wait_for("lost-update");
    s.send("q");
    let status = s.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    s.assert_terminal_restored();
}

#[test]
fn sigterm_quits_cleanly_and_restores_the_terminal() {
    quits_on("-TERM");
}

#[test]
fn sighup_quits_cleanly_and_restores_the_terminal() {
    quits_on("-HUP");
}

fn quits_on(signal: &str) {
    let mut s = Session::start(&["tui"]);
    s.wait_for("Active holds");
    let pid = s.child.process_id().unwrap();
    let killed = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = s.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    s.assert_terminal_restored();
}

#[test]
fn a_panic_restores_the_terminal_and_says_it_was_a_bug() {
    let mut s = Session::start_with(&[], &[("FLASHSALE_CONSOLE_TEST_PANIC", "1")]);
    let status = s.wait_exit();
    assert_eq!(status.exit_code(), 1, "{status:?}");
    s.assert_screen_left();
    let text = s.output();
    // The panic hook leaves the alternate screen first, then the message is printed.
    let after_leaving = &text[text.find("\x1b[?1049l").unwrap()..];
    assert!(
        after_leaving.contains("internal bug"),
        "the user is told, after the terminal is back: {after_leaving:?}"
    );
}

#[test]
fn without_a_terminal_the_console_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .arg("--db")
        .arg(dir.path().join("flashsale.db"))
        .arg("tui")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a terminal"), "{err}");
}

#[test]
fn quitting_stops_a_running_swarm_first() {
    let mut s = Session::start(&[]);
    s.wait_for("Active holds");
    s.send("n");
    s.wait_for("New swarm");
    s.send("20000\r");
    s.wait_for("run 1");
    let asked = Instant::now();
    s.send("q");
    let status = s.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "stopping the swarm took {:?}",
        asked.elapsed()
    );
    s.assert_terminal_restored();
}

#[test]
fn flashsale_lab_opens_the_console_on_a_scenario() {
    let mut s = Session::start(&["lab", "lost-update"]);
    s.wait_for("Lost update");
    s.send("q");
    let status = s.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    s.assert_terminal_restored();
}

/// Every order's id (a reset that resells the same number of units still loses these).
fn orders_in(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM orders ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A presenter's fumble on a sale with orders: Enter Enter Enter must not reset it, and
/// Esc on the Sale tab must not leave the console.
#[test]
fn enter_enter_enter_and_esc_lose_nothing_and_do_not_quit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flashsale.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flashsale"))
        .arg("--db")
        .arg(&db)
        .args([
            "--synchronous",
            "normal",
            "swarm",
            "--stock",
            "20",
            "--buyers",
            "30",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let before = orders_in(&db);
    assert_eq!(before.len(), 20);

    let mut s = Session::start_on(dir, &[], &[]);
    s.wait_for("Active holds");
    s.send("\r");
    s.wait_for("New swarm");
    s.send("\r");
    s.send("\r");
    s.wait_for("Run 1");
    s.send("\x1b");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "Esc on the Sale tab quit the console"
    );
    assert!(s.screen().contains("Active holds"), "{}", s.screen());
    s.send("q");
    let status = s.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    let after = orders_in(&s.db());
    let lost: Vec<_> = before.iter().filter(|id| !after.contains(id)).collect();
    assert!(lost.is_empty(), "Enter Enter Enter lost orders: {lost:?}");
}

/// `tui --serve`: one process, one engine. A real HTTP client takes a hold at the URL the
/// console shows, the console counts that web buyer, and `q` stops the server too.
#[test]
fn the_console_serves_the_sale_and_stops_the_server_when_it_quits() {
    let mut s = Session::start(&["tui", "--serve", "127.0.0.1:0"]);
    let url = served_url(&s);
    let client = http_support::Client::new(&url);
    let ann = client.buyer("ann");
    let hold = client.add_to_cart(&ann, "BUDS-2", 1);
    assert_eq!(hold.status, 201, "{}", hold.text);
    s.wait_for("web buyers: 1 hold, 0 orders");

    s.send("q");
    let status = s.wait_exit();
    assert!(status.success(), "exit {status:?}; screen:\n{}", s.screen());
    s.assert_terminal_restored();
    let addr = url.trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "{addr} still answers after the console quit"
    );
}

/// The URL a serving console shows, without its trailing slash.
fn served_url(s: &Session) -> String {
    let screen = s.wait_for("web buyers: 0 holds, 0 orders");
    let url = screen
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL on the screen:\n{screen}"))
        .trim_end_matches('/')
        .to_owned();
    assert!(!url.ends_with(":0"), "the URL names the bound port: {url}");
    url
}

/// SIGTERM quits the console and drains the server: an open event stream is ended (it
/// would otherwise keep the drain waiting), and the process exits 0.
#[test]
fn sigterm_ends_the_served_event_streams_and_exits_0() {
    use std::io::BufRead;
    let mut s = Session::start(&["tui", "--serve", "127.0.0.1:0"]);
    let url = served_url(&s);
    let events = http_support::agent()
        .get(format!("{url}/api/events"))
        .call()
        .unwrap();
    let mut lines = std::io::BufReader::new(events.into_body().into_reader()).lines();
    assert!(lines.next().is_some(), "the stream sends the stock first");
    let pid = s.child.process_id().unwrap();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = s.wait_exit();
    assert!(status.success(), "exit {status:?}");
    s.assert_terminal_restored();
    // The rest of the stream, to its end: it was closed, not cut off by a timeout.
    assert!(
        lines.all(|l| l.is_ok()),
        "the stream broke instead of ending"
    );
}

/// A port already taken is a plain sentence and exit 2, before the console draws.
#[test]
fn a_taken_port_is_a_usage_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut s = Session::start(&["tui", "--serve", &addr]);
    let status = s.wait_exit();
    assert_eq!(status.exit_code(), 2, "{status:?}");
    let out = s.output();
    assert!(
        out.contains(&format!("cannot listen on {addr}")) && out.contains("--serve"),
        "{out}"
    );
    assert!(
        !out.contains("\x1b[?1049h"),
        "the console drew first: {out:?}"
    );
}

/// Serving refuses what it cannot do, in a sentence, before the console draws: pay-first
/// (no hold to pay over HTTP) and a read-only monitor (it does not sell).
#[test]
fn serving_pay_first_or_read_only_is_a_usage_error() {
    for (args, said) in [
        (
            &["tui", "--serve", "127.0.0.1:0", "--strategy", "pay-first"][..],
            "pay-first takes no hold",
        ),
        (
            &["tui", "--serve", "127.0.0.1:0", "--read-only"][..],
            "cannot be used with",
        ),
    ] {
        let mut s = Session::start(args);
        let status = s.wait_exit();
        assert_eq!(status.exit_code(), 2, "{args:?}: {status:?}");
        let out = s.output();
        assert!(out.contains(said), "{args:?}: {out}");
        assert!(
            !out.contains("\x1b[?1049h"),
            "the console drew first: {out:?}"
        );
        assert!(!s.db().exists(), "{args:?} created the database");
    }
}
