"""gridgov.core.sqlite_backend: writers queue on a file lock instead of SQLite's busy handler."""

import threading
import time

import pytest
from django.db.utils import ConnectionHandler, OperationalError

pytestmark = pytest.mark.django_db  # the suite's blocker refuses any database connection otherwise

HOLD = 0.6  # seconds the first writer keeps its transaction open
BUSY_TIMEOUT = 0.05  # SQLite's own wait: far shorter than HOLD, so SQLite alone would fail the second writer


def wrapper(path, engine="gridgov.core.sqlite_backend"):
    handler = ConnectionHandler({"default": {"ENGINE": "django.db.backends.dummy"}, "w": {"ENGINE": engine, "NAME": str(path),
                                       "OPTIONS": {"timeout": BUSY_TIMEOUT, "transaction_mode": "IMMEDIATE",
                                                   "init_command": "PRAGMA journal_mode=WAL;"}}})
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
    # the premise: with a busy timeout shorter than the first transaction, Django's own backend fails
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


def test_a_refused_begin_leaves_the_lock_free(path, monkeypatch):
    from django.db.backends.sqlite3.base import DatabaseWrapper as Plain

    db = wrapper(path)
    db.ensure_connection()
    monkeypatch.setattr(Plain, "_start_transaction_under_autocommit", lambda self: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        begin(db)
    monkeypatch.undo()
    db.close()
    other = wrapper(path)
    begin(other)  # would block forever if the failed BEGIN had kept the lock
    other.rollback()
    other.close()


def test_an_in_memory_database_has_no_lock_file(tmp_path):
    db = wrapper(":memory:")
    db.ensure_connection()
    assert db._lock_file is None
    db.close()
    assert not list(tmp_path.iterdir())
