"""Django settings for cvat_lite.

Every setting that varies between deployments comes from a ``CVAT_LITE_*`` environment variable,
read here once. Absent ones take embedded defaults: a SQLite database and a data directory under
the checkout's ``var/``, an embedded Redis started by ``cvat-lite serve`` (or the test suite).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from cvat_lite.cloud.endpoints import parse_allowlist

BASE_DIR = Path(__file__).resolve().parent.parent


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"CVAT_LITE_{name}", default)


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if not value:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value else default


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in _env(name, default).split(",") if item.strip()]


DEBUG = _env_bool("DEBUG", False)
# The embedded development profile: no explicit secret key configured. Production deployments
# must set CVAT_LITE_SECRET_KEY; the embedded default only suits a developer's machine.
EMBEDDED = not _env("SECRET_KEY")
SECRET_KEY = _env("SECRET_KEY") or "cvat-lite-embedded-development-key-not-for-production"
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

DATA_DIR = Path(_env("DATA_DIR") or BASE_DIR / "var" / "data").resolve()
SHARE_ROOT = Path(_env("SHARE_ROOT") or DATA_DIR / "share").resolve()
EXPORT_TTL = _env_int("EXPORT_TTL", 24 * 3600)
# How often the workers' scheduler runs the housekeeping (cvat_lite/backup/housekeeping.py):
# requests of dead workers recorded failed, expired results and abandoned uploads removed.
HOUSEKEEPING_INTERVAL = _env_int("HOUSEKEEPING_INTERVAL", 300)
# Where a request leaves files for another process (uploads, export results, local task media):
# empty = DATA_DIR (one node, or nodes sharing that disk); a bucket URL for nodes that share no
# disk, e.g. s3://bucket/prefix?endpoint_url=http://minio:9000 (cvat_lite/store/config.py).
# Its secrets come from CVAT_LITE_SHARED_STORE_<FIELD> variables, never from the URL.
SHARED_STORE = _env("SHARED_STORE") or ""
SHARED_STORE_CREDENTIALS = {
    name: _env(f"SHARED_STORE_{name.upper()}") or ""
    for name in (
        "key",
        "secret_key",
        "session_token",
        "account_name",
        "connection_string",
        "key_file_path",
    )
}
# Media objects downloaded at once while a full backup of a cloud task is written (each is
# held in memory, up to 8 MiB, or spooled to a temporary file).
BACKUP_FETCH_CONCURRENCY = _env_int("BACKUP_FETCH_CONCURRENCY", 8)
# Relink verification: how many objects known only by CVAT's pixel checksum are downloaded and
# decoded to compare it (a random sample; a request may ask for another number or "all").
RELINK_CONTENT_SAMPLE = _env_int("RELINK_CONTENT_SAMPLE", 20)
# A relink of more images than this (a task's, or the unlinked tasks' of a project together)
# runs in the background: the PATCH answers 202 with a request to follow (docs/relink.md). At
# or below it the PATCH answers 200 with the result, as CVAT's clients expect.
RELINK_SYNC_MAX_IMAGES = _env_int("RELINK_SYNC_MAX_IMAGES", 20_000)
# Backups written by the CLI and policies to a cloud storage are downloaded again and their
# sha256 compared when they are at most this large (bigger ones: size and MD5 checks only).
BACKUP_READBACK_DOWNLOAD_MAX = _env_int("BACKUP_READBACK_DOWNLOAD_MAX", 64 * 1024**2)
# contract 4.4: comma-separated host:port patterns for user-supplied cloud endpoints. The embedded
# development default allows loopback only; a production deployment allows nothing unless
# configured.
# A malformed pattern stops every process at startup (rather than never matching).
try:
    CLOUD_ENDPOINT_ALLOWLIST = list(
        parse_allowlist(
            _env("CLOUD_ENDPOINT_ALLOWLIST", "127.0.0.1:*,localhost:*,[::1]:*" if EMBEDDED else "")
        )
    )
except ValueError as exc:
    raise ImproperlyConfigured(f"CVAT_LITE_CLOUD_ENDPOINT_ALLOWLIST: {exc}") from None
REGISTRATION_ENABLED = _env_bool("REGISTRATION_ENABLED", True)
# Failed logins (API and admin) allowed per account and per client address within
# LOGIN_FAILURE_WINDOW seconds of the first; then 429 with Retry-After (docs/security.md).
LOGIN_FAILURES_PER_ACCOUNT = _env_int("LOGIN_FAILURES_PER_ACCOUNT", 10)
LOGIN_FAILURES_PER_ADDRESS = _env_int("LOGIN_FAILURES_PER_ADDRESS", 50)
LOGIN_FAILURE_WINDOW = _env_int("LOGIN_FAILURE_WINDOW", 15 * 60)
# Personal access tokens a user may hold at once (CVAT's default); -1 lifts the limit.
MAX_ACCESS_TOKENS_PER_USER = _env_int("MAX_ACCESS_TOKENS_PER_USER", 50)

# Limits for uploads and task data (documented in the README).
MAX_UPLOAD_SIZE = _env_int("MAX_UPLOAD_SIZE", 4 * 1024**3)
MAX_TASK_IMAGES = _env_int("MAX_TASK_IMAGES", 1_000_000)
# Unfinished TUS uploads with no write for this many seconds are removed.
UPLOAD_TTL = _env_int("UPLOAD_TTL", 24 * 3600)
# Bounds on unfinished TUS uploads (docs/outbound-and-upload-limits.md). A user's uploads may
# declare this many bytes in all (two uploads of the maximum size) and number this many; all
# users' together this many bytes; and a new upload or chunk must leave this much free space on
# the data disk once every upload in progress is complete.
UPLOAD_USER_QUOTA = _env_int("UPLOAD_USER_QUOTA", 2 * MAX_UPLOAD_SIZE)
UPLOAD_USER_MAX_PENDING = _env_int("UPLOAD_USER_MAX_PENDING", 20)
UPLOAD_TOTAL_QUOTA = _env_int("UPLOAD_TOTAL_QUOTA", 32 * 1024**3)
UPLOAD_DISK_RESERVE = _env_int("UPLOAD_DISK_RESERVE", 1024**3)
# Limits for reading backup archives on import (contract 9); the defaults are those of
# cvat_lite.backup.limits.Limits (its docstring says why). Sizes are uncompressed bytes.
BACKUP_MAX_MEMBERS = _env_int("BACKUP_MAX_MEMBERS", 2_000_000)
BACKUP_MAX_MEMBER_SIZE = _env_int("BACKUP_MAX_MEMBER_SIZE", 2 * 1024**3)
BACKUP_MAX_TOTAL_SIZE = _env_int("BACKUP_MAX_TOTAL_SIZE", 50 * 1024**3)
BACKUP_MAX_RATIO = _env_int("BACKUP_MAX_RATIO", 200)
BACKUP_MAX_ANNOTATIONS_SIZE = _env_int("BACKUP_MAX_ANNOTATIONS_SIZE", 512 * 1024**2)
BACKUP_MAX_TASK_JSON_SIZE = _env_int("BACKUP_MAX_TASK_JSON_SIZE", 64 * 1024**2)
# Counts inside an archive's documents (docs/security.md, "Import limits").
BACKUP_MAX_JOBS = _env_int("BACKUP_MAX_JOBS", 20_000)
BACKUP_MAX_LABELS = _env_int("BACKUP_MAX_LABELS", 25_000)
BACKUP_MAX_ATTRIBUTES = _env_int("BACKUP_MAX_ATTRIBUTES", 1_000)
BACKUP_MAX_ATTRIBUTE_VALUES = _env_int("BACKUP_MAX_ATTRIBUTE_VALUES", 4_096)
BACKUP_MAX_OBJECTS = _env_int("BACKUP_MAX_OBJECTS", 5_000_000)
BACKUP_MAX_POINTS = _env_int("BACKUP_MAX_POINTS", 1_000_000)
BACKUP_MAX_TRACK_SHAPES = _env_int("BACKUP_MAX_TRACK_SHAPES", 1_000_000)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "cvat_lite.engine",
    "cvat_lite.backup",
    "cvat_lite.requests",
    "cvat_lite.policies",
    "cvat_lite.uploads",
    "cvat_lite.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "cvat_lite.api.middleware.UnstorableTextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cvat_lite.api.middleware.BackendUnavailableMiddleware",
]

ROOT_URLCONF = "cvat_lite.urls"
WSGI_APPLICATION = "cvat_lite.wsgi.application"
APPEND_SLASH = False
# Files in one multipart request (cvat_lite/api/upload_handlers.py, docs/security.md): any
# endpoint takes MAX_REQUEST_FILES (Django's default); task data, where the SDK sends up to
# 100 MiB of small images at once, MAX_TASK_UPLOAD_FILES. Django's own check is the ceiling.
MAX_REQUEST_FILES = _env_int("MAX_REQUEST_FILES", 100)
MAX_TASK_UPLOAD_FILES = _env_int("MAX_TASK_UPLOAD_FILES", 20_000)
DATA_UPLOAD_MAX_NUMBER_FILES = max(MAX_REQUEST_FILES, MAX_TASK_UPLOAD_FILES)
FILE_UPLOAD_HANDLERS = [
    "cvat_lite.api.upload_handlers.FileCountLimit",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

_default_db = f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(_env("DATABASE_URL") or _default_db)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # serve runs web and workers side by side: WAL journal and a busy timeout.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not Django's in-memory default: live-server threads and worker threads in the
    # test suite then use connections of their own. One per test process.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"cvat_lite_test_{os.getpid()}.sqlite3")
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = _env("REDIS_URL") or "redis://127.0.0.1:6379/0"
RQ_QUEUES: dict[str, dict[str, Any]] = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 24 * 3600}
    for name in ("export", "import", "create")
}
RQ_SHOW_ADMIN_LINK = False
# Workers renew the deadline of the job they run every WORKER_HEARTBEAT seconds, up to
# WORKER_HEARTBEAT_GRACE seconds ahead; a job past its deadline lost its worker and its request
# fails (cvat_lite.worker). rq's defaults: 30 and 60.
WORKER_HEARTBEAT = _env_int("WORKER_HEARTBEAT", 30)
WORKER_HEARTBEAT_GRACE = _env_int("WORKER_HEARTBEAT_GRACE", 60)
RQ = {"WORKER_CLASS": "cvat_lite.worker.Worker"}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "media": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cvat_lite_media",
        "TIMEOUT": 24 * 3600,
    },
}

# Django's full set (similarity to the username, names and e-mail; at least
# PASSWORD_MIN_LENGTH characters; not one of 20,000 common passwords; not all digits) and one of
# ours: the password must not contain the username or e-mail (docs/security.md).
PASSWORD_MIN_LENGTH = _env_int("PASSWORD_MIN_LENGTH", 8)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "cvat_lite.engine.password_validation.UserAttributeContainmentValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Unused by the service (media live in DATA_DIR and the cloud). Set so that Django's test live
# server, which serves MEDIA_URL from MEDIA_ROOT ahead of the app, does not take every path
# ('' prefixes them all) for a file under the working directory.
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"

SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# The production profile behind TLS (docs/security.md): CVAT_LITE_HTTPS=1 makes cookies Secure,
# sends HSTS and redirects plain HTTP to HTTPS; `cvat-lite check --deploy` then reports nothing.
# The TLS proxy in front must set CVAT_LITE_HTTPS_PROXY_HEADER (X-Forwarded-Proto: https on
# HTTPS requests, and overwrite any value a client sent); empty when nothing terminates TLS in
# front of the server.
HTTPS = _env_bool("HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = _env_int("HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = _env_bool("HSTS_PRELOAD", True)
    _proxy_header = _env("HTTPS_PROXY_HEADER", "X-Forwarded-Proto").strip()
    if _proxy_header:
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "cvat_lite.api.authentication.AccessTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cvat_lite.api.exception_handler.handle_exception",
    "DEFAULT_PAGINATION_CLASS": "cvat_lite.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 10,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "cvat_lite.api.renderers.CvatJSONRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "cvat_lite.api.parsers.JSONParser",
        "cvat_lite.api.parsers.FormParser",
        "cvat_lite.api.parsers.MultiPartParser",
    ],
    "DEFAULT_VERSIONING_CLASS": None,
    # Proxies in front of the server that append to X-Forwarded-For: the client address login
    # throttling counts by. 0: the connection's own address (anything a client sends in
    # X-Forwarded-For is ignored); the HTTPS profile assumes one proxy.
    "NUM_PROXIES": _env_int("NUM_PROXIES", 1 if HTTPS else 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "cvat_lite REST API",
    "DESCRIPTION": (
        "A compatible slice of CVAT's REST API (2.80) for tasks whose media live in cloud "
        "storages, with full and lightweight backups."
    ),
    "VERSION": "2.80.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from the pinned sidecar package, not a CDN: /api/docs works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LabelType": "cvat_lite.engine.models.LABEL_TYPE_CHOICES",
        "JobStatus": "cvat_lite.engine.models.STATUS_CHOICES",
        "JobType": "cvat_lite.engine.models.JOB_TYPE_CHOICES",
        # a backup policy's local | cloud_storage (the storage location field has its own)
        "PolicyLocationEnum": "cvat_lite.policies.models.LOCATION_CHOICES",
        "LocationEnum": "cvat_lite.api.serializers.storage.LOCATIONS",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "cvat_lite": {"handlers": ["console"], "level": _env("LOG_LEVEL", "INFO")},
        "rq.worker": {"handlers": ["console"], "level": "WARNING"},
    },
}
