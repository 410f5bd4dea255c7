# Why p99 doubled when checkpoints first left the writer (issue 13): a RESTART or
# TRUNCATE checkpoint holds the write lock, and a writer that meets it sleeps in
# SQLite's busy handler (1, 2, 5, 10, 15, 20, 25 ... ms), which does not wake when the
# lock is free. This measures the wait behind a lock held X ms: `python3 benches/busy_handler_wait.py`.
# The checkpointer (src/engine/checkpointer.rs) holds the engine's writer mutex instead.
import sqlite3, threading, time, tempfile, os, statistics
d = tempfile.mkdtemp(); p = os.path.join(d, "b.db")
c = sqlite3.connect(p, isolation_level=None); c.execute("PRAGMA journal_mode=WAL"); c.execute("CREATE TABLE t(x)")
for hold_ms in (3, 6, 12, 25, 50):
    waits = []
    for _ in range(10):
        a = sqlite3.connect(p, isolation_level=None, timeout=5)
        b = sqlite3.connect(p, isolation_level=None, timeout=5, check_same_thread=False)
        a.execute("BEGIN IMMEDIATE")
        started = threading.Event(); out = []
        def writer():
            started.set(); t0 = time.perf_counter(); b.execute("BEGIN IMMEDIATE"); out.append(time.perf_counter() - t0); b.execute("COMMIT")
        th = threading.Thread(target=writer); th.start(); started.wait(); time.sleep(0.0005)
        t_lock = time.perf_counter(); time.sleep(hold_ms / 1000); a.execute("COMMIT"); th.join()
        waits.append(out[0] * 1000)
        a.close(); b.close()
    print(f"lock held {hold_ms:3d} ms -> the other writer waited median {statistics.median(waits):6.1f} ms (max {max(waits):6.1f})")
