"""gridgov.core.sqlite_backend: writers queue on a file lock instead of SQLite's busy handler."""

import fcntl
import os
import threading
import time

import pytest
from django.db.utils import ConnectionHandler, OperationalError

pytestmark = pytest.mark.django_db  # the suite's blocker refuses any database connection otherwise

HOLD = 0.6  # seconds the first writer keeps its transaction open
BUSY_TIMEOUT_MS = 50  # SQLite's own wait (its busy handler): far shorter than HOLD


def wrapper(path, engine="gridgov.core.sqlite_backend", timeout=5.0):
    # `timeout` is the connection's busy timeout, which this backend's lock honours too; the PRAGMA after it
    # cuts SQLite's own wait to 50 ms, so a writer that gets through HOLD waited on the file lock, not in SQLite
    handler = ConnectionHandler({"default": {"ENGINE": "django.db.backends.dummy"}, "w": {
        "ENGINE": engine, "NAME": str(path),
        "OPTIONS": {"timeout": timeout, "transaction_mode": "IMMEDIATE",
                    "init_command": f"PRAGMA journal_mode=WAL; PRAGMA busy_timeout={BUSY_TIMEOUT_MS};"}}})
    return handler.create_connection("w")


def begin(db):
    db.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)  # what atomic() does


def second_writer(path, engine, out):
    db = wrapper(path, engine)
    started = time.monotonic()
    try:
        begin(db)
        db.cursor().execute("INSERT INTO t VALUES (2)")
        db.commit()
        out["waited"] = time.monotonic() - started
    except OperationalError as exc:
        out["error"] = str(exc)
    finally:
        db.close()


def run_second_writer_while(path, engine, first_finishes):
    """The first writer holds a transaction for HOLD seconds, then `first_finishes(db)`; returns the second's outcome."""
    first = wrapper(path, engine)
    begin(first)
    first.cursor().execute("INSERT INTO t VALUES (1)")
    out = {}
    thread = threading.Thread(target=second_writer, args=(path, engine, out))
    thread.start()
    time.sleep(HOLD)
    first_finishes(first)
    thread.join(10)
    first.close()
    return out


@pytest.fixture
def path(tmp_path):
    db = wrapper(tmp_path / "w.sqlite3")
    db.cursor().execute("CREATE TABLE t (n INTEGER)")
    db.close()
    return tmp_path / "w.sqlite3"


def test_sqlite_alone_refuses_the_second_writer(path):
    # the premise: SQLite's own wait being shorter than the first transaction, Django's own backend fails
    out = run_second_writer_while(path, "django.db.backends.sqlite3", lambda db: db.commit())
    assert "locked" in out.get("error", "")


@pytest.mark.parametrize("finish", ["commit", "rollback", "close"])
def test_the_second_writer_waits_for_the_first_to_finish(path, finish):
    out = run_second_writer_while(path, "gridgov.core.sqlite_backend", lambda db: getattr(db, finish)())
    assert "error" not in out and out["waited"] >= HOLD * 0.8
    check = wrapper(path)
    rows = sorted(n for (n,) in check.cursor().execute("SELECT n FROM t").fetchall())
    check.close()
    assert rows == ([1, 2] if finish == "commit" else [2])


def lock_is_free(path) -> bool:
    fd = os.open(f"{path}-writelock", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_the_lock_is_held_from_begin_to_the_end_of_the_transaction(path):
    db = wrapper(path)
    db.ensure_connection()
    assert lock_is_free(path)
    begin(db)
    assert not lock_is_free(path)
    db.commit()
    assert lock_is_free(path)
    begin(db)
    db.set_autocommit(True)  # sqlite3 commits when autocommit comes back on: the lock goes with it
    assert lock_is_free(path)
    db.close()


def test_a_refused_begin_leaves_the_lock_free(path, monkeypatch):
    from django.db.backends.sqlite3.base import DatabaseWrapper as Plain

    db = wrapper(path)
    db.ensure_connection()
    monkeypatch.setattr(Plain, "_start_transaction_under_autocommit", lambda self: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        begin(db)
    assert lock_is_free(path)  # before the connection is closed
    db.close()


def test_a_writer_gives_up_after_the_busy_timeout(path):
    first, second = wrapper(path), wrapper(path, timeout=0.3)
    begin(first)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="locked"):
        begin(second)
    assert 0.3 <= time.monotonic() - started < 2
    first.rollback()
    begin(second)  # free again
    second.rollback()
    first.close()
    second.close()


def test_an_in_memory_database_has_no_lock_file():
    db = wrapper(":memory:")
    db.ensure_connection()
    assert db._lock_fd is None
    db.close()
