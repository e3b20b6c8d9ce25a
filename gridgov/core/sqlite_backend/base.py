"""Django's SQLite backend with one writer at a time, queued on a file lock instead of SQLite's busy handler.

With `BEGIN IMMEDIATE` every transaction takes SQLite's write lock at its start; the others wait in SQLite's busy
handler, which sleeps in growing steps (up to 100 ms) between tries, so the lock often lies free while every
waiter sleeps and whoever tries at the right moment wins: under 16 concurrent reports the 99th percentile waited
a whole second. Here a transaction first takes an exclusive `flock` on `<database>-writelock` (one descriptor
per connection, so threads of one process queue too, and so do the job runner and management commands), trying
again every 2 ms at most, and drops it at commit, rollback or close. It gives up like SQLite does, with
"database is locked", after the connection's busy timeout (`GRIDGOV_SQLITE_TIMEOUT`). In-memory databases (the
test suite's) and `file:` URIs have no lock file and behave as Django's backend does.
"""

from __future__ import annotations

import fcntl
import os
import time

from django.db.backends.sqlite3 import base
from django.db.utils import OperationalError

RETRY_SECONDS = (0.0002, 0.0005, 0.001, 0.002)  # the waits between tries, the last one repeated


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock_fd: int | None = None
        self._lock_held = False

    def _lock_path(self) -> str | None:
        name = str(self.settings_dict["NAME"] or "")
        if not name or self.is_in_memory_db() or name.startswith("file:"):
            return None
        return f"{name}-writelock"

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        path = self._lock_path()
        if path and self._lock_fd is None:
            # read-only is enough for flock: a lock file created by another user (say root running manage.py)
            # does not lock the server out
            self._lock_fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        return connection

    def _start_transaction_under_autocommit(self):
        self._acquire()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release()
            raise

    def _commit(self):
        result = super()._commit()  # a failed COMMIT keeps the lock until the rollback or close that follows
        self._release()
        return result

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release()

    def _set_autocommit(self, autocommit):
        super()._set_autocommit(autocommit)
        if autocommit:  # sqlite3 commits an open transaction when autocommit comes back on
            self._release()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _acquire(self) -> None:
        if self._lock_fd is None or self._lock_held:
            return
        deadline = time.monotonic() + float(self.settings_dict["OPTIONS"].get("timeout", 5))
        tries = 0
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OperationalError("database is locked (another writer held the write lock)") from None
                time.sleep(RETRY_SECONDS[min(tries, len(RETRY_SECONDS) - 1)])
                tries += 1
        self._lock_held = True

    def _release(self) -> None:
        if self._lock_held:
            self._lock_held = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
