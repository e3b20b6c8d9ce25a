"""Periodic jobs: apps register functions in their jobs.py; `manage.py run_jobs` runs them on schedule.

    from gridgov.core.scheduler import periodic

    @periodic(name="cases.escalate_overdue", seconds=60)
    def escalate_overdue() -> str: ...

Each run is recorded in JobRun (shown on /healthz). A job's failure is logged and recorded; it never stops
the runner.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections, connection
from django.db.models import F
from django.utils import timezone

from .models import JobRun

logger = logging.getLogger("gridgov.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[[], object]
    seconds: int


REGISTRY: dict[str, Job] = {}


def periodic(*, name: str, seconds: int):
    def register(func):
        REGISTRY[name] = Job(name=name, func=func, seconds=seconds)
        return func

    return register


def _refresh_connections() -> None:
    # A long-running runner must drop stale connections between runs (never inside a transaction).
    if not connection.in_atomic_block:
        close_old_connections()


def run_job(job: Job) -> bool:
    """Run one job now and record the outcome; returns whether it succeeded."""
    _refresh_connections()
    JobRun.objects.get_or_create(name=job.name)
    JobRun.objects.filter(name=job.name).update(last_started_at=timezone.now())
    try:
        result = job.func()
    except Exception:  # noqa: BLE001 - a failing job is recorded, the runner goes on
        logger.exception("job %s failed", job.name)
        JobRun.objects.filter(name=job.name).update(
            last_finished_at=timezone.now(), last_ok=False, last_error=traceback.format_exc()[-4000:],
            runs=F("runs") + 1, failures=F("failures") + 1)
        return False
    finally:
        _refresh_connections()
    JobRun.objects.filter(name=job.name).update(
        last_finished_at=timezone.now(), last_ok=True, last_error="", last_result=str(result or "")[:200],
        runs=F("runs") + 1)
    return True
