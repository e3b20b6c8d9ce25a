"""`manage.py serve`: the production server (gunicorn) together with the periodic job runner.

Both run as child processes; stopping this command (Ctrl-C or SIGTERM) stops both.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


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
        web = [
            python, "-m", "gunicorn", "config.wsgi:application", "--chdir", str(settings.BASE_DIR),
            "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads),
            "--worker-class", "gthread", "--timeout", "60", "--graceful-timeout", "10",
            "--forwarded-allow-ips", os.environ.get("GRIDGOV_FORWARDED_ALLOW_IPS", "127.0.0.1"),
            # no control socket in ~/.gunicorn: two servers on one machine (run, bench) would share it
            "--no-control-socket",
        ]
        if os.environ.get("GRIDGOV_ACCESS_LOG"):
            web += ["--access-logfile", "-"]
        children = [subprocess.Popen(web)]
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
