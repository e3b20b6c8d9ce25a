from gridgov.core.scheduler import periodic

from .jobs_import import import_jobs_run_pending


@periodic(name="residents.imports", seconds=5)
def run_imports() -> str:
    return f"imported {import_jobs_run_pending()} files"
