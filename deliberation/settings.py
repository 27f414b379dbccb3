"""Agora settings, read from the environment (django-environ).

With nothing set, Agora runs on the embedded default: a SQLite file under ``var/`` and
Celery tasks executed eagerly in-process, so a newcomer sees it work with nothing installed.
``AGORA_ENV=production`` turns on the hardening that ``manage.py check --deploy`` asks for.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

AGORA_ENV = env.str("AGORA_ENV", default="development")
PRODUCTION = AGORA_ENV == "production"

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
# The development key is only ever used on the embedded default; production refuses to start
# without a real one.
SECRET_KEY = (
    env.str("SECRET_KEY")
    if PRODUCTION
    else env.str("SECRET_KEY", default="agora-development-only-key-not-for-production-use")
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

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
    "deliberation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "deliberation.urls"
WSGI_APPLICATION = "deliberation.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'agora.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite serialises writers; a busy timeout keeps the eager-mode demo from failing on
    # "database is locked" when a page and a task write at the same moment.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))

LOGIN_URL = "console:login"

CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://agora")
    if not env.str("REDIS_URL", default="")
    else {
        "BACKEND": "deliberation.cache.RedisCache",
        "LOCATION": env.str("REDIS_URL"),
        # Keys name snapshots and conversations by id: two databases sharing one Redis
        # database (a benchmark beside the tests) need prefixes of their own.
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=""),
    }
}

# Sessions are read on every request (the anonymous participant is their session): read
# through the cache, written through to the database. Not signed cookies: the session key
# names the participant, and a signed-cookie session has no stable key.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "deliberation.api.authentication.CsrfEnforcedSessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "deliberation.api.errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Agora API",
    "DESCRIPTION": "Conversations, statements, votes and opinion groups.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Statements and snapshots both have a "status": name their enums apart.
    "ENUM_NAME_OVERRIDES": {
        "StatementStatusEnum": "deliberation.models.StatementStatus",
        "SnapshotStatusEnum": "deliberation.models.SnapshotStatus",
    },
}

# Celery: an empty or unset broker means "no broker": tasks run eagerly, in-process.
CELERY_TASK_ALWAYS_EAGER = not env.str("CELERY_BROKER_URL", default="")
# Eager tasks never touch the broker, but Celery still builds a connection URL: an
# in-memory one keeps it from guessing (and logging about) a localhost AMQP server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
# A worker that dies mid-run must not lose the run: acknowledge only after the task returns,
# requeue on worker loss, and take one task at a time so a crash strands at most one.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="agora")

# Live opinion groups (deliberation/services/recompute.py). A vote schedules a run after
# DEBOUNCE_S so a burst becomes one run; a running run beats every HEARTBEAT_S and the
# reaper hands it to another worker once its heartbeat is STALE_S old. From the second
# consecutive failed run, a conversation waits RETRY_BACKOFF_S, doubling up to
# RETRY_BACKOFF_MAX_S, before it runs again. Without a broker, runs happen on a background
# thread of the web process; EAGER_INLINE runs them inside the request instead (the tests).
AGORA_RECLUSTER = {
    "DEBOUNCE_S": env.float("AGORA_RECLUSTER_DEBOUNCE_S", default=2.0),
    "HEARTBEAT_S": env.float("AGORA_RECLUSTER_HEARTBEAT_S", default=10.0),
    "STALE_S": env.float("AGORA_RECLUSTER_STALE_S", default=60.0),
    "SWEEP_EVERY_S": env.float("AGORA_RECLUSTER_SWEEP_EVERY_S", default=30.0),
    "KEEP_RECENT": env.int("AGORA_RECLUSTER_KEEP_RECENT", default=24),
    "RETRY_BACKOFF_S": env.float("AGORA_RECLUSTER_RETRY_BACKOFF_S", default=30.0),
    "RETRY_BACKOFF_MAX_S": env.float("AGORA_RECLUSTER_RETRY_BACKOFF_MAX_S", default=900.0),
    "EAGER_INLINE": env.bool("AGORA_RECLUSTER_EAGER_INLINE", default=False),
}
CELERY_BEAT_SCHEDULE = {
    "snapshots-reap": {
        "task": "deliberation.tasks.snapshots_reap",
        "schedule": AGORA_RECLUSTER["SWEEP_EVERY_S"],
    },
    "recompute-catch-up": {
        "task": "deliberation.tasks.recompute_catch_up",
        "schedule": AGORA_RECLUSTER["SWEEP_EVERY_S"],
    },
    # Summaries whose summary_generate task was lost (broker outage, worker crash).
    "summaries-catch-up": {
        "task": "deliberation.assistant.tasks.summaries_catch_up",
        "schedule": AGORA_RECLUSTER["SWEEP_EVERY_S"],
    },
    # Resends lost moderation-flag jobs and screens pending statements that never had one.
    "moderation-flags-reap": {
        "task": "deliberation.assistant.moderation_tasks.moderation_flags_reap",
        "schedule": 60.0,
    },
}

# The AI assistant. The endpoint and key are the openai SDK's own OPENAI_BASE_URL and
# OPENAI_API_KEY; with no endpoint configured the assistant runs its offline provider.
AGORA_LLM = {
    "BASE_URL": env.str("OPENAI_BASE_URL", default=""),
    "API_KEY": env.str("OPENAI_API_KEY", default=""),
    "CHAT_MODEL": env.str("AGORA_CHAT_MODEL", default="gpt-4o-mini"),
    "EMBEDDING_MODEL": env.str("AGORA_EMBEDDING_MODEL", default="text-embedding-3-small"),
    "TIMEOUT_S": env.float("AGORA_LLM_TIMEOUT_S", default=30.0),
    # While a participant waits (the duplicate check at submit): one short deadline, no retries.
    "INTERACTIVE_TIMEOUT_S": env.float("AGORA_LLM_INTERACTIVE_TIMEOUT_S", default=2.0),
    "MAX_RETRIES": env.int("AGORA_LLM_MAX_RETRIES", default=3),
    "TOKEN_BUDGET_PER_CONVERSATION": env.int("AGORA_LLM_TOKEN_BUDGET", default=2_000_000),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint and its font tools narrate every PDF at INFO: a hundred lines per report.
    "loggers": {
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
