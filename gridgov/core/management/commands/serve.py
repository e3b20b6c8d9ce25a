"""`manage.py serve`: the production server (gunicorn) together with the periodic job runner.

Both run as child processes; stopping this command (Ctrl-C or SIGTERM) stops both. `gunicorn_argv` and
`server_environ` are the web server's command line and environment; `make bench` starts its server with them.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


def gunicorn_argv(*, host: str, port, workers=2, threads=4, base_dir=None) -> list[str]:
    """The web server's command line: gunicorn, `workers` processes × `threads` threads each."""
    argv = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application", "--chdir", str(base_dir or settings.BASE_DIR),
        "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads),
        "--worker-class", "gthread", "--timeout", "60", "--graceful-timeout", "10",
        "--forwarded-allow-ips", os.environ.get("GRIDGOV_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        # no control socket in ~/.gunicorn: two servers on one machine (run, bench) would share it
        "--no-control-socket",
    ]
    if os.environ.get("GRIDGOV_ACCESS_LOG"):
        argv += ["--access-logfile", "-"]
    return argv


def server_environ(base: dict[str, str] | None = None) -> dict[str, str]:
    """The web server's environment: `base` (default os.environ) with glibc's malloc arenas capped at 2 per
    process unless set — with one arena per thread, a 4-thread worker held ~70 MB more for the same pages."""
    env = dict(os.environ if base is None else base)
    env.setdefault("MALLOC_ARENA_MAX", "2")
    return env


class Command(BaseCommand):
    help = "Serve gridgov with gunicorn and run the periodic jobs beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--workers", default=os.environ.get("GRIDGOV_WORKERS", "2"))
        parser.add_argument("--threads", default=os.environ.get("GRIDGOV_THREADS", "4"))
        parser.add_argument("--no-jobs", action="store_true", help="do not start the job runner")

    def handle(self, *args, host, port, workers, threads, no_jobs, **options):
        python = sys.executable
        web = gunicorn_argv(host=host, port=port, workers=workers, threads=threads)
        children = [subprocess.Popen(web, env=server_environ())]
        if not no_jobs:
            children.append(subprocess.Popen([python, str(settings.BASE_DIR / "manage.py"), "run_jobs"]))
        self.stdout.write(self.style.SUCCESS(f"gridgov is serving at http://{host}:{port}  (Ctrl-C stops)"))

        def stop(*_):
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
        codes = [child.returncode for child in children]
        if any(code not in (0, -signal.SIGTERM, None) for code in codes):
            raise SystemExit(1)
