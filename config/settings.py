"""gridgov settings, read from the environment (see README "Settings")."""

import math
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GRIDGOV_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_numbers(name: str, defaults: dict[str, float]) -> dict[str, float]:
    """'key=number,key=number' over the defaults (a key left out keeps its default); an unknown key, a value
    that is not a number or a negative one stops the start with ImproperlyConfigured."""
    raw = os.environ.get(name, "")
    values = dict(defaults)
    for part in raw.split(","):
        if not part.strip():
            continue
        key, sep, text = (s.strip() for s in part.partition("="))
        if key not in defaults:
            raise ImproperlyConfigured(f"{name}={raw!r}: unknown key {key!r}; the keys are {', '.join(defaults)}")
        try:
            number = float(text) if sep else math.nan
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ImproperlyConfigured(f"{name}={raw!r}: {key} needs a number, written {key}=<number>")
        if number < 0:
            raise ImproperlyConfigured(f"{name}={raw!r}: {key} must not be negative")
        values[key] = number
    return values


DEBUG = env_bool("GRIDGOV_DEBUG", False)


def _secret_key() -> str:
    """The environment's key, or one generated once and kept under var/ (demo and development)."""
    if key := os.environ.get("GRIDGOV_SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        from django.core.management.utils import get_random_secret_key

        path.write_text(get_random_secret_key())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("GRIDGOV_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("GRIDGOV_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "ninja",
    "axes",
    "gridgov.core",
    "gridgov.accounts",
    "gridgov.geo",
    "gridgov.cases",
    "gridgov.residents",
    "gridgov.disputes",
    "gridgov.analytics",
    "gridgov.open311",
    "gridgov.webhooks",
    "simple_history",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "gridgov.core.middleware.RequestHygieneMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last, as django-axes asks: it turns a locked-out login into the lockout page
    "axes.middleware.AxesMiddleware",
    # records who made each change in the residents' history tables
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "gridgov" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "gridgov.core.context_processors.site",
                "gridgov.core.context_processors.unread_notifications",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------------------------------
# SQLite (WAL, busy timeout, immediate transactions) under var/ unless DATABASE_URL names another database.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'gridgov.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend with writers queued on a file lock (gridgov/core/sqlite_backend/base.py)
    DATABASES["default"]["ENGINE"] = "gridgov.core.sqlite_backend"
    # kept open between requests like PostgreSQL's: a new connection per request ran the PRAGMAs and started from a
    # cold page cache every time (intake +35 %, a bare insert 3×, measured by `make bench`)
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("GRIDGOV_SQLITE_CONN_MAX_AGE", "60"))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"] = {
        "timeout": int(os.environ.get("GRIDGOV_SQLITE_TIMEOUT", "20")),
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            # the page cache is per connection (one per thread): 16 MB each keeps a 4-thread worker small
            f"PRAGMA busy_timeout={1000 * int(os.environ.get('GRIDGOV_SQLITE_TIMEOUT', '20'))}; "
            f"PRAGMA cache_size=-{1024 * int(os.environ.get('GRIDGOV_SQLITE_CACHE_MB', '16'))}; "
            "PRAGMA temp_store=MEMORY;"
        ),
    }
    # ":memory:" spelled out: pytest-django recognises in-memory SQLite by Django's engine name, not ours
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("GRIDGOV_TEST_SQLITE_NAME") or ":memory:"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- authentication -------------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lockout after repeated failures (django-axes): per username and address.
AXES_FAILURE_LIMIT = int(os.environ.get("GRIDGOV_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("GRIDGOV_LOGIN_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "gridgov.accounts.lockout.lockout_response"
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("GRIDGOV_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- language and time --------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "gridgov" / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("GRIDGOV_TIME_ZONE", "Asia/Shanghai")
USE_TZ = True

# --- static files -------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "gridgov" / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing folder before collectstatic has run
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

# --- gridgov ------------------------------------------------------------------------------------------------
# Map tiles: a URL template for Leaflet; empty means grids draw on a plain background (offline).
GRIDGOV_MAP_TILES = os.environ.get("GRIDGOV_MAP_TILES", "")
GRIDGOV_MAP_ATTRIBUTION = os.environ.get("GRIDGOV_MAP_ATTRIBUTION", "")
# The working day on the calendar, as periods of local time.
GRIDGOV_WORK_PERIODS = os.environ.get("GRIDGOV_WORK_PERIODS", "09:00-12:00,13:30-17:30")
# How often a process re-reads the grid version to rebuild its locator after another process changed grids.
GRIDGOV_LOCATOR_CHECK_SECONDS = float(os.environ.get("GRIDGOV_LOCATOR_CHECK_SECONDS", "5"))
GRIDGOV_DEMO_PASSWORD = os.environ.get("GRIDGOV_DEMO_PASSWORD", "gridgov-demo")
GRIDGOV_API_PAGE_SIZE_MAX = 200

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("GRIDGOV_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}, "apscheduler": {"level": "WARNING"}},
}

# Django Ninja: list pages
NINJA_PAGINATION_PER_PAGE = 50
NINJA_MAX_PER_PAGE_SIZE = GRIDGOV_API_PAGE_SIZE_MAX

# The demo city's steps, in order; each is called with size= and seed= (later apps append theirs).
GRIDGOV_DEMO_STEPS = [
    "gridgov.geo.demo.build_geography",
    "gridgov.accounts.demo.build_people",
    "gridgov.cases.demo.build_cases",
    "gridgov.residents.demo.build_residents",
    "gridgov.disputes.demo.build_disputes",
    "gridgov.analytics.demo.build_rollups",
]

# Notification channels besides the in-app inbox (callables taking a Notification).
GRIDGOV_NOTIFY_CHANNELS = [c for c in env_list("GRIDGOV_NOTIFY_CHANNELS", "gridgov.core.notifications.email_channel")]
GRIDGOV_BASE_URL = os.environ.get("GRIDGOV_BASE_URL", "http://127.0.0.1:8000")
EMAIL_BACKEND = os.environ.get("GRIDGOV_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("GRIDGOV_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("GRIDGOV_EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("GRIDGOV_EMAIL_FROM", "gridgov@localhost")

# Cases
GRIDGOV_PHOTO_MAX_BYTES = int(os.environ.get("GRIDGOV_PHOTO_MAX_BYTES", str(10 * 1024 * 1024)))
GRIDGOV_PUBLIC_REPORTS_PER_HOUR = int(os.environ.get("GRIDGOV_PUBLIC_REPORTS_PER_HOUR", "5"))
GRIDGOV_PUBLIC_TRACK_MISSES_PER_HOUR = int(os.environ.get("GRIDGOV_PUBLIC_TRACK_MISSES_PER_HOUR", "30"))
GRIDGOV_REOPEN_DAYS = int(os.environ.get("GRIDGOV_REOPEN_DAYS", "15"))
# An overdue case escalates one level, and again after this many working hours if still overdue.
GRIDGOV_ESCALATION_INTERVAL_HOURS = int(os.environ.get("GRIDGOV_ESCALATION_INTERVAL_HOURS", "7"))

# Analytics: the longest range a KPI may be asked for (days).
GRIDGOV_ANALYTICS_MAX_DAYS = int(os.environ.get("GRIDGOV_ANALYTICS_MAX_DAYS", "3660"))

# Webhooks (docs/webhooks.md): the time a receiver gets to answer, and whether targets on localhost or private
# networks are allowed (off: a subscriber must not make the server call internal services).
GRIDGOV_WEBHOOKS_TIMEOUT = float(os.environ.get("GRIDGOV_WEBHOOKS_TIMEOUT", "5"))
GRIDGOV_WEBHOOKS_ALLOW_PRIVATE = env_bool("GRIDGOV_WEBHOOKS_ALLOW_PRIVATE", False)

# Open311 GeoReport v2 (docs/open311.md): when set, any other jurisdiction_id is a 404; the contact shown by
# discovery.
GRIDGOV_OPEN311_JURISDICTION = os.environ.get("GRIDGOV_OPEN311_JURISDICTION", "")
GRIDGOV_OPEN311_CONTACT = os.environ.get("GRIDGOV_OPEN311_CONTACT", "")
# Analytics: the governance effectiveness index (docs/kpis.md). The aspects' weights (relative; the index
# scales them to sum to 1) and, per share indicator, the share (percent) that scores 100.
GRIDGOV_INDEX_WEIGHTS = env_numbers("GRIDGOV_INDEX_WEIGHTS", {"concept": 0.15, "subjects": 0.25, "methods": 0.25,
                                                              "effectiveness": 0.35})
if not any(GRIDGOV_INDEX_WEIGHTS.values()):
    raise ImproperlyConfigured("GRIDGOV_INDEX_WEIGHTS: at least one weight must be above 0")
GRIDGOV_INDEX_TARGETS = env_numbers("GRIDGOV_INDEX_TARGETS", {"service_share": 30.0, "resident_share": 20.0,
                                                              "digital_share": 100.0})
for _key, _target in GRIDGOV_INDEX_TARGETS.items():
    if not 0 < _target <= 100:
        raise ImproperlyConfigured(f"GRIDGOV_INDEX_TARGETS: {_key} must be a share above 0 and at most 100")
