"""Agora settings, read from the environment (django-environ).

With nothing set, Agora runs on the embedded default: a SQLite file under ``var/`` and
Celery tasks executed eagerly in-process, so a newcomer sees it work with nothing installed.
``AGORA_ENV=production`` turns on the hardening that ``manage.py check --deploy`` asks for.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

AGORA_ENV = env.str("AGORA_ENV", default="development")
PRODUCTION = AGORA_ENV == "production"

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
# The development key is published in this file: it may only sign what a developer's own
# machine serves. Production needs a real one, and nothing with DEBUG off may use this one.
DEVELOPMENT_SECRET_KEY = "agora-development-only-key-not-for-production-use"
SECRET_KEY = (
    env.str("SECRET_KEY") if PRODUCTION else env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
)
if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the published development key while DEBUG is off: set a secret one "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )
if PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        f"SECRET_KEY has {len(SECRET_KEY)} characters; production needs at least 50 "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )
# Keys invite and external-id links: each conversation's key is derived from this and a
# random salt kept in its row, so neither a leaked SECRET_KEY nor a leaked database alone
# signs a link. Set it apart from SECRET_KEY so rotating one leaves the other alone.
AGORA_LINK_SECRET = env.str("AGORA_LINK_SECRET", default=SECRET_KEY)
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
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "deliberation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "deliberation.middleware.RateLimitMiddleware",
    # Before anything reads a request body (the CSRF middleware reads form bodies).
    "deliberation.api.middleware.ApiBodySizeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
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
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Reuse each process's connection across requests: a new PostgreSQL connection costs a few
    # milliseconds per request. Health checks drop one the server closed (a restart) before a
    # request uses it. (Measured against the psycopg pool in the README's Production section.)
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=300)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
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
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed, content-hashed names (collectstatic), so browsers may cache them for ever.
    # Development keeps the plain storage: no collectstatic needed to run.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# The report's downloads, built once per snapshot and served from here.
AGORA_EXPORTS_DIR = env.path("AGORA_EXPORTS_DIR", default=str(VAR_DIR / "exports"))

LOGIN_URL = "console:login"

# Console and admin logins lock out after AXES_FAILURE_LIMIT failures for one username from
# one address (django-axes, counted in the database so every process sees them), until
# AXES_COOLOFF_TIME has passed; a success clears the count. The address is the one rate
# limits use, so the trusted-proxy settings below apply here too.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "deliberation.services.ratelimits.request_client_ip"
AXES_LOCKOUT_CALLABLE = "deliberation.console.views.login_locked_out"
# Its start-up banner goes to stderr, where commands print only what went wrong.
AXES_VERBOSE = False

REDIS_URL = env.str("REDIS_URL", default="")
# How many processes serve web requests (gunicorn reads the same variable for its worker
# count; deploy/supervisord.conf sets it).
WEB_CONCURRENCY = env.int("WEB_CONCURRENCY", default=1)
CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://agora")
    if not REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Every key expires (the default is 5 minutes; no code stores one for ever), so the
        # cache database may run under volatile-lru without touching a key that has none.
        "TIMEOUT": 300,
    }
}

# Content-Security-Policy (django-csp): everything from our own origin, nothing inline (scripts
# and styles live in static/), and no framing (embedding will name its origins here).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# Rate limits (deliberation/services/ratelimits.py): the defaults there, overridden per action
# and scope by AGORA_RATE_LIMITS, JSON such as {"statement": {"address": 30}}. Scopes:
# participant, address, conversation; actions: join, vote, statement, draft, assistant.
AGORA_RATE_LIMITS = env.json("AGORA_RATE_LIMITS", default={})
AGORA_RATE_LIMIT_WINDOW_S = env.int("AGORA_RATE_LIMIT_WINDOW_S", default=60)
# Behind a reverse proxy every request comes from the proxy's address. Set the number of
# proxies of yours in front of Agora (each appends to X-Forwarded-For, or the header named
# here) and limits count the address the outermost one saw; 0 (the default) trusts no header.
AGORA_TRUSTED_PROXY_COUNT = env.int("AGORA_TRUSTED_PROXY_COUNT", default=0)
AGORA_TRUSTED_PROXY_HEADER = env.str("AGORA_TRUSTED_PROXY_HEADER", default="X-Forwarded-For")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "deliberation.api.authentication.CsrfEnforcedSessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # DRF's JSON parser, but refusing deep nesting before it recurses.
    "DEFAULT_PARSER_CLASSES": [
        "deliberation.api.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "deliberation.api.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "deliberation.api.errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Agora API",
    "DESCRIPTION": "Conversations, statements, votes and opinion groups.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The API's contract is JSON; the form parsers stay for HTML clients but are not
    # documented.
    "PARSER_WHITELIST": ["deliberation.api.parsers.DepthLimitedJSONParser"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "deliberation.api.schema.error_responses_complete",
    ],
    # Swagger UI from our own static files (drf-spectacular-sidecar), not a CDN: the docs
    # work offline and pass the Content-Security-Policy.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
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
# A broker restart must not stop the worker: retry connecting at startup and after a loss,
# for ever, every second or two (not Celery's default back-off of up to 30 s), with short
# socket timeouts so a dead broker is noticed at once. A run in progress when the broker
# goes keeps computing: its results go to PostgreSQL, and the message redelivered later
# finds the run finished (claims are idempotent).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = 4.0
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "interval_start": 0,
    "interval_step": 1,
    "interval_max": 2,
    "socket_connect_timeout": 2,
    "socket_keepalive": True,
    "retry_on_timeout": True,
    "health_check_interval": 10,
}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="agora")

# Live opinion groups (deliberation/services/recompute.py). A vote schedules a run after
# DEBOUNCE_S so a burst becomes one run. A running run beats every HEARTBEAT_S; once it has
# missed STALE_BEATS beats its worker is taken as dead: the run is failed (or queued again)
# and the run waiting behind it starts at once. Every SWEEP_EVERY_S the beat reaps such runs,
# resends queued runs whose task message was lost and catches up conversations whose votes
# are ahead of their groups, so a fault is recovered within STALE_BEATS x HEARTBEAT_S +
# SWEEP_EVERY_S (12 s by default). A summary whose task is lost is sent again after
# SUMMARY_GRACE_S (summaries are not claimed, so a slow one must not be sent twice). From the
# second consecutive failed run, a conversation waits RETRY_BACKOFF_S, doubling up to
# RETRY_BACKOFF_MAX_S, before it runs again. Without a broker, runs happen on a background
# thread of the web process; EAGER_INLINE runs them inside the request instead (the tests).
AGORA_RECLUSTER = {
    "DEBOUNCE_S": env.float("AGORA_RECLUSTER_DEBOUNCE_S", default=2.0),
    "HEARTBEAT_S": env.float("AGORA_RECLUSTER_HEARTBEAT_S", default=3.0),
    "STALE_BEATS": env.int("AGORA_RECLUSTER_STALE_BEATS", default=3),
    "SWEEP_EVERY_S": env.float("AGORA_RECLUSTER_SWEEP_EVERY_S", default=3.0),
    "SUMMARY_GRACE_S": env.float("AGORA_RECLUSTER_SUMMARY_GRACE_S", default=60.0),
    "KEEP_RECENT": env.int("AGORA_RECLUSTER_KEEP_RECENT", default=24),
    "RETRY_BACKOFF_S": env.float("AGORA_RECLUSTER_RETRY_BACKOFF_S", default=30.0),
    "RETRY_BACKOFF_MAX_S": env.float("AGORA_RECLUSTER_RETRY_BACKOFF_MAX_S", default=900.0),
    "EAGER_INLINE": env.bool("AGORA_RECLUSTER_EAGER_INLINE", default=False),
}
# /healthz fails its "snapshots" check once a queued run has waited this long: the groups
# lag the votes (a stopped worker or beat). A run normally waits a debounce, or for the run
# ahead of it to finish.
AGORA_HEALTHZ_SNAPSHOT_LAG_S = env.float("AGORA_HEALTHZ_SNAPSHOT_LAG_S", default=120.0)
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
        "schedule": AGORA_RECLUSTER["SUMMARY_GRACE_S"] / 2,
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


def _redis_database(url: str) -> tuple[str | None, int, str]:
    parts = urlsplit(url)
    return parts.hostname, parts.port or 6379, parts.path.strip("/") or "0"


if PRODUCTION:
    # Rate limits and cached pages live in the cache: a per-process memory cache would give
    # every web process (and the worker that warms reports) its own, so limits would count
    # per process and warmed pages would never reach a reader.
    if not REDIS_URL and (WEB_CONCURRENCY > 1 or not CELERY_TASK_ALWAYS_EAGER):
        raise ImproperlyConfigured(
            f"REDIS_URL is unset while more than one process serves (WEB_CONCURRENCY="
            f"{WEB_CONCURRENCY}, broker {'set' if not CELERY_TASK_ALWAYS_EAGER else 'unset'}): "
            "each process would keep its own cache and rate limits. Set REDIS_URL."
        )
    # The cache may evict; the broker must never lose a message. Sharing one database lets
    # an eviction policy meant for the cache drop queued tasks (README, Production).
    if (
        REDIS_URL
        and CELERY_BROKER_URL.startswith("redis")
        and _redis_database(REDIS_URL) == _redis_database(CELERY_BROKER_URL)
    ):
        raise ImproperlyConfigured(
            "REDIS_URL and CELERY_BROKER_URL name the same Redis database: give the cache "
            "and the broker separate ones (ideally separate instances)."
        )
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Probes (supervisor scripts, load balancers) call /healthz over plain HTTP on the host.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
    # Serves collectstatic's compressed, fingerprinted files from the app server itself (in
    # development runserver serves them from static/ directly).
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )
