"""Settings for the intake and memory rows: config.settings, with a URLconf that adds the bare baseline endpoint.

`DJANGO_SETTINGS_MODULE=bench.baseline_settings` serves the real API (and every page) exactly as config.urls
does, plus `POST /bench/insert` (bench/baseline_app.py). Both intake measurements run under it, so the server
configuration is the same. Never used outside `make bench`.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline_app"
