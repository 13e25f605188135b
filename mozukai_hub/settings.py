"""Mozukai Hub settings, driven by the environment (see `.env.example`).

Two shapes of deployment share this one module:

* the embedded default (`make run`): SQLite in WAL mode, django-q2 on the ORM broker,
  local-memory cache, a database-poll wake-up for websockets, local private media;
* production / scale-out (`DJANGO_ENV=production`): PostgreSQL (`DATABASE_URL`), Redis
  (`REDIS_URL`) for cache, throttles, channel layer and task broker. Production refuses to
  start without the data-bearing services and secrets it needs: no in-memory fallback ever
  stands in for them.
"""

import sys
from datetime import timedelta
from pathlib import Path

import environ
from corsheaders.defaults import default_headers as cors_default_headers
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'.")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production.")

# Development gets a fixed, clearly-insecure key so `make run` works with no setup.
SECRET_KEY = env.str("SECRET_KEY", default="" if PRODUCTION else "dev-insecure-key-do-not-use-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"])
DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
# Public base URL for links that leave the request (e-mails, Stripe success/cancel pages).
SITE_URL = env.str("SITE_URL", default="" if PRODUCTION else "http://127.0.0.1:8000")
# The name e-mails are signed with (allauth's confirmation and reset e-mails: accounts/adapter.py).
SITE_NAME = env.str("SITE_NAME", default="Mozukai Hub")

if PRODUCTION:
    missing = [
        name
        for name, value in {
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "ALLOWED_HOSTS": ALLOWED_HOSTS,
            "SITE_URL": SITE_URL,
            # Payments: no dev payment mode and no unsigned webhooks in production (Billing below).
            "STRIPE_SECRET_KEY": env.str("STRIPE_SECRET_KEY", default=""),
            "STRIPE_WEBHOOK_SECRET": env.str("STRIPE_WEBHOOK_SECRET", default=""),
        }.items()
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(f"Production settings need: {', '.join(missing)}.")
    if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured("Production needs a PostgreSQL DATABASE_URL.")



# --- Applications -------------------------------------------------------------------------

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "channels",
    "django_q",
    "mozukai_hub",
    "accounts",
    "pipeline",
    "studio",
    "chat",
    "billing",
    "catalog",
]

GOOGLE_CLIENT_ID = env.str("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env.str("GOOGLE_CLIENT_SECRET", default="")
if GOOGLE_CLIENT_ID:
    INSTALLED_APPS.append("allauth.socialaccount.providers.google")

MIDDLEWARE = [
    "mozukai_hub.middleware.RequestLogMiddleware",
    # Content-Security-Policy (per-request nonce) and Permissions-Policy on every response.
    "mozukai_hub.security_headers.SecurityHeadersMiddleware",
    # Under /api/ every failure is the JSON error shape, DEBUG or not (and no NUL in path or query).
    "mozukai_hub.middleware.APIErrorMiddleware",
    "mozukai_hub.request_limits.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "mozukai_hub.urls"
WSGI_APPLICATION = "mozukai_hub.wsgi.application"
ASGI_APPLICATION = "mozukai_hub.asgi.application"
SITE_ID = 1

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

# --- Database ------------------------------------------------------------------------------

# Off behind a pooler in transaction mode (PgBouncer): prepared statements and the session
# setting that goes with them (mozukai_hub.db) belong to one server connection.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)

if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    # django-q2 forks its worker processes, and a psycopg pool (open sockets and background
    # threads) does not survive a fork: the task cluster uses plain per-task connections.
    running_task_cluster = len(sys.argv) > 1 and sys.argv[1] == "qcluster"
    use_pool = env.bool("DATABASE_POOL", default=True) and not running_task_cluster
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and use_pool:
        # psycopg 3's pool; CONN_MAX_AGE must stay 0 with it (and under ASGI in general).
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        # The pool checks a connection before lending it (one empty round trip): after a database
        # restart or failover no request fails on a dead pooled connection.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_POOL_CHECK", default=True)
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN", default=1),
            "max_size": env.int("DATABASE_POOL_MAX", default=20),
            "timeout": env.int("DATABASE_POOL_TIMEOUT", default=10),
        }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_PREPARED_STATEMENTS:
        # Lets psycopg prepare statements at all (None, Django's default, forbids it), with a
        # count never reached, so nothing is prepared unasked. Django's own cursors bind on the
        # client and never prepare; only `mozukai_hub.db.fetchone_prepared` (the ledger's and the
        # product list's few hot statements) asks for it, on a statement's first run.
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 1_000_000
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": Path(env.str("SQLITE_PATH", default=str(BASE_DIR / "var" / "db.sqlite3"))),
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on
                # busy_timeout instead of failing with "database is locked" mid-transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, channel layer, task queue ---------------------------------------------------

if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache, reusing one Redis client instead of building one per call.
            "BACKEND": "mozukai_hub.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "mozukai",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A consumer waits on Redis with BZPOPMIN for 5 s at a time; redis-py 8 reads with a 5 s
            # socket timeout by default, so an idle socket's wait timed out and the consumer crashed
            # (1011). The read timeout must outlast the blocking wait.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}], "prefix": "mozukai:ws"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "mozukai"}}
    # No channel layer: consumers wake up by a short database poll (see ARCHITECTURE.md).
    CHANNEL_LAYERS = {}

Q_CLUSTER = {
    "name": "mozukai",
    "workers": env.int("Q_WORKERS", default=2),
    # A task is killed after `timeout` seconds; the broker redelivers after `retry` seconds,
    # so retry must exceed timeout or a slow task would run twice at the same time.
    "timeout": env.int("Q_TIMEOUT", default=600),
    "retry": env.int("Q_RETRY", default=660),
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=3),
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = env.float("Q_POLL", default=0.1)

# --- Auth ---------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "/accounts/login/"

# allauth: e-mail is the login; "optional" lets every seed's signup → signin flow work as
# written, "mandatory" blocks sign-in until the link is followed.
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
if ACCOUNT_EMAIL_VERIFICATION not in {"none", "optional", "mandatory"}:
    raise ImproperlyConfigured("ACCOUNT_EMAIL_VERIFICATION must be none, optional or mandatory.")
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_EMAIL_CONFIRMATION_HMAC = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupForm"  # adds full name and date of birth
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
SOCIALACCOUNT_PROVIDERS = {}
if GOOGLE_CLIENT_ID:
    SOCIALACCOUNT_PROVIDERS["google"] = {
        "APPS": [{"client_id": GOOGLE_CLIENT_ID, "secret": GOOGLE_CLIENT_SECRET, "key": ""}],
        "SCOPE": ["profile", "email"],
    }
# Google's published signing keys; tests point this at a local server.
GOOGLE_CERTS_URL = env.str("GOOGLE_CERTS_URL", default="https://www.googleapis.com/oauth2/v3/certs")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("ACCESS_TOKEN_LIFETIME", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(minutes=env.int("SHORT_REFRESH_TOKEN_LIFETIME", default=60)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SECRET", default=SECRET_KEY),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Tokens carry a hash of the password: a password change revokes every token at once.
    "CHECK_REVOKE_TOKEN": True,
    "CHECK_USER_IS_ACTIVE": True,
}
# Refresh lifetime when the client asks to be remembered (seed 004: 43200 min = 30 days).
LONG_REFRESH_TOKEN_LIFETIME = timedelta(minutes=env.int("LONG_REFRESH_TOKEN_LIFETIME", default=43200))

# --- API ---------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "mozukai_hub.api.pagination.HeaderPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "mozukai_hub.api.throttling.UserRateThrottle",
        "mozukai_hub.api.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("THROTTLE_USER", default="100/min"),
        "auth": env.str("THROTTLE_AUTH", default="5/min"),
        "uploads": env.str("THROTTLE_UPLOADS", default="10/min"),
    },
    "EXCEPTION_HANDLER": "mozukai_hub.api.errors.exception_handler",
    # JSON bodies bounded in size and depth, with no NUL or lone surrogate (mozukai_hub.api.parsers).
    "DEFAULT_PARSER_CLASSES": [
        "mozukai_hub.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # OPTIONS answers on every view, generic or not (mozukai_hub.api.metadata).
    "DEFAULT_METADATA_CLASS": "mozukai_hub.api.metadata.APIMetadata",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Mozukai Hub API",
    # Say plainly what exists (keep in step with the footer in templates/base.html and the README).
    "DESCRIPTION": (
        "Available now: the bonsai shop (products, categories, orders, payments), accounts, credits "
        "(balance, free credits, packs), text-to-3D and SCAD jobs with their assets and events, design "
        "sessions, the design chat (chats, messages, the assistant's actions and the chat websocket), studio "
        "projects (thumbnails and films) rendered by jobs, the pay-per-use photo generator (`/generate`) and "
        "photogrammetry (`/pipeline/upload`).\n\n"
        "Every job kind follows one state machine; `GET /jobs/{id}/valid-transitions` answers what you may do next."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["mozukai_hub.api.schema.drop_trailing_slash_duplicates"],
    # Every operation documents its error responses in the one error shape (issue 15).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "mozukai_hub.api.schema.document_error_responses"],
    # Several models have a `status`; name each choice set after its model in the schema.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "pipeline.models.Job.Status",
        "JobKindEnum": "pipeline.models.Job.Kind",
        "ProjectKindEnum": "studio.models.Project.Kind",
        "SessionStatusEnum": "chat.models.Session.Status",
        "OrderStatusEnum": "catalog.models.OrderStatus",
        "PaymentStatusEnum": "billing.models.PaymentStatus",
        "StripeEventStatusEnum": "billing.models.StripeEventStatus",
        "UploadRoleEnum": "pipeline.api.serializers.UPLOAD_ROLES",  # an upload's role (alias: type)
    },
}

# Number of reverse proxies in front of the app whose X-Forwarded-For entries are believed.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Production trusts no origin it was not told about (the `mozukai_hub.E001` check insists it is set).
ALLOWED_ORIGINS = env.list("ALLOWED_ORIGINS", default=[] if PRODUCTION else ["http://localhost:5173"])
ALLOWED_ORIGINS_SET = "ALLOWED_ORIGINS" in env.ENVIRON
CORS_ALLOWED_ORIGINS = ALLOWED_ORIGINS
CORS_ALLOW_CREDENTIALS = True  # django-cors-headers sends it only for allowed origins
# An anonymous visitor's job token (pipeline.api.views.VISITOR_TOKEN_HEADER) from a browser SPA.
CORS_ALLOW_HEADERS = (*cors_default_headers, "x-visitor-token")
CSRF_TRUSTED_ORIGINS = ALLOWED_ORIGINS + env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Files -------------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
# Media is private: no URL route serves MEDIA_URL; files go out only through signed, expiring links.
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
AVATAR_MAX_BYTES = env.int("AVATAR_MAX_BYTES", default=5 * 1024 * 1024)
# API input limits (mozukai_hub.api.fields; README "API conventions"). A JSON body: at most this
# many bytes (413 past it) and levels of nesting. A JSON field (metadata_json, params, …): at most
# this many bytes as compact JSON, levels and keys + array items in all. Integers: |n| ≤ API_INTEGER_MAX
# unless the field sets its own bounds.
API_JSON_MAX_BODY_BYTES = env.int("API_JSON_MAX_BODY_BYTES", default=DATA_UPLOAD_MAX_MEMORY_SIZE)
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=64)
API_JSON_FIELD_MAX_BYTES = env.int("API_JSON_FIELD_MAX_BYTES", default=64 * 1024)
API_JSON_FIELD_MAX_DEPTH = env.int("API_JSON_FIELD_MAX_DEPTH", default=16)
API_JSON_FIELD_MAX_ITEMS = env.int("API_JSON_FIELD_MAX_ITEMS", default=1000)
API_INTEGER_MAX = env.int("API_INTEGER_MAX", default=2**31 - 1)

# --- Shop ---------------------------------------------------------------------------------

# Currency of new products (ISO 4217, lower case as Stripe spells it).
SHOP_CURRENCY = env.str("SHOP_CURRENCY", default="usd").lower()
# An unpaid (pending) order gives its stock back after this many minutes.
SHOP_ORDER_EXPIRY_MINUTES = env.int("SHOP_ORDER_EXPIRY_MINUTES", default=30)
# How long a cached page of the public product list lives (it is also dropped on any change).
SHOP_PRODUCT_LIST_CACHE_SECONDS = env.int("SHOP_PRODUCT_LIST_CACHE_SECONDS", default=300)
# Products at or below this stock show as "low stock" (admin filter, product pages).
SHOP_LOW_STOCK_THRESHOLD = env.int("SHOP_LOW_STOCK_THRESHOLD", default=5)
# Most units of one product in one order.
SHOP_MAX_QUANTITY_PER_LINE = env.int("SHOP_MAX_QUANTITY_PER_LINE", default=99)

# --- Pipeline -----------------------------------------------------------------------------

# Engine per kind when the request names none; a kind without an entry has no engine (400).
PIPELINE_DEFAULT_ENGINES = {
    "text_to_3d": "local", "scad_render": "local", "thumbnail": "local", "film": "local",
    "photo_style": env.str("PHOTO_STYLE_ENGINE", default="local"), "photogrammetry": "local",
}
# Seconds a worker's claim on a job lasts without renewal; an expired lease is retried by the reaper.
PIPELINE_LEASE_SECONDS = env.int("PIPELINE_LEASE_SECONDS", default=60)
# Runs of one job (worker deaths included) before it ends `failed`.
PIPELINE_MAX_ATTEMPTS = env.int("PIPELINE_MAX_ATTEMPTS", default=3)
# A job never started (still `pending`) after this many seconds ends `failed` (abandoned), credits returned.
PIPELINE_PENDING_MAX_AGE_SECONDS = env.int("PIPELINE_PENDING_MAX_AGE_SECONDS", default=24 * 3600)
# The apps' engine modules (each registers its engines when imported); the pipeline app cannot
# import the apps above it, so they are named here.
PIPELINE_APP_ENGINE_MODULES = [
    "studio.thumbnail.engine", "studio.providers.engines", "studio.generator.engine", "studio.film.engine",
    "pipeline.photogrammetry.engine",
]
# Extra engine modules to import (each registers engines); used by the worker-crash tests.
PIPELINE_ENGINE_MODULES = env.list("PIPELINE_ENGINE_MODULES", default=[])
# Wall-clock limit of one run of each job kind, in seconds (the kind's engines declare it). The
# django-q2 task of a job gets this plus PIPELINE_TASK_GRACE_SECONDS as its timeout; a run still
# going past its limit ends `failed` with error_type=timeout instead of being retried.
PIPELINE_TIME_LIMITS = {
    "thumbnail": env.int("PIPELINE_TIME_LIMIT_THUMBNAIL", default=300),
    "film": env.int("PIPELINE_TIME_LIMIT_FILM", default=1800),
    "photo_style": env.int("PIPELINE_TIME_LIMIT_PHOTO_STYLE", default=300),
    "text_to_3d": env.int("PIPELINE_TIME_LIMIT_TEXT_TO_3D", default=600),
    "scad_render": env.int("PIPELINE_TIME_LIMIT_SCAD_RENDER", default=600),
    "photogrammetry": env.int("PIPELINE_TIME_LIMIT_PHOTOGRAMMETRY", default=3600),
}
PIPELINE_TASK_GRACE_SECONDS = env.int("PIPELINE_TASK_GRACE_SECONDS", default=60)
# The ORM broker redelivers an unacknowledged task after `retry` seconds: it must outlast the
# longest job task, or a long job would be delivered twice (the `pipeline.E001` check says so).
Q_CLUSTER["retry"] = max(Q_CLUSTER["retry"], max(PIPELINE_TIME_LIMITS.values()) + PIPELINE_TASK_GRACE_SECONDS + 60)
OPENSCAD_BINARY = env.str("OPENSCAD_BINARY", default="openscad")
OPENSCAD_TIMEOUT_SECONDS = env.int("OPENSCAD_TIMEOUT_SECONDS", default=60)
OPENSCAD_MAX_FN = env.int("OPENSCAD_MAX_FN", default=96)
# The shared job queue (issue 16). Per owner (a user, or an anonymous visitor's client IP):
# jobs in flight (not yet ended; client-worked jobs excepted) and jobs created per minute, past
# which creating a job answers 429 with Retry-After (0 turns a cap off); jobs handed to the task
# broker at a time (the rest wait, in order, in the database, so one owner cannot fill the queue).
PIPELINE_MAX_JOBS_IN_FLIGHT = env.int("PIPELINE_MAX_JOBS_IN_FLIGHT", default=5)
PIPELINE_MAX_JOBS_PER_MINUTE = env.int("PIPELINE_MAX_JOBS_PER_MINUTE", default=20)
PIPELINE_MAX_DISPATCHED_PER_OWNER = max(1, env.int("PIPELINE_MAX_DISPATCHED_PER_OWNER", default=1))
# CPU budget of user-supplied SCAD, estimated before rendering (pipeline/engines/scad/cost.py):
# 100 000 is about 15 s of OpenSCAD 2021 CPU on overlapping unions; the templates cost < 10 000.
OPENSCAD_MAX_COST = env.int("OPENSCAD_MAX_COST", default=100_000)
# RunPod serverless (remote engine "runpod" for text_to_3d and scad_render): off unless both are set.
RUNPOD_API_KEY = env.str("RUNPOD_API_KEY", default="")
RUNPOD_ENDPOINT_ID = env.str("RUNPOD_ENDPOINT_ID", default="")
RUNPOD_BASE_URL = env.str("RUNPOD_BASE_URL", default="https://api.runpod.ai/v2")
RUNPOD_POLL_SECONDS = env.float("RUNPOD_POLL_SECONDS", default=2.0)
# Stays below Q_TIMEOUT so the task ends (and cancels the remote job) before django-q2 kills it.
RUNPOD_TIMEOUT_SECONDS = env.int("RUNPOD_TIMEOUT_SECONDS", default=540)
RUNPOD_MAX_OUTPUT_BYTES = env.int("RUNPOD_MAX_OUTPUT_BYTES", default=200 * 1024 * 1024)
# Largest file copied from any remote provider's output URL (an engine may set a smaller cap).
PROVIDER_MAX_OUTPUT_BYTES = env.int("PROVIDER_MAX_OUTPUT_BYTES", default=200 * 1024 * 1024)
# Signed download links: lifetime in seconds.
PIPELINE_DOWNLOAD_URL_SECONDS = env.int("PIPELINE_DOWNLOAD_URL_SECONDS", default=900)
# Media on S3 (django-storages): a private bucket, reached only through presigned URLs.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": PIPELINE_DOWNLOAD_URL_SECONDS,
            "signature_version": "s3v4",
            "file_overwrite": False,
        },
    }
# Uploads: largest file in bytes and largest image in pixels.
PIPELINE_UPLOAD_MAX_BYTES = env.int("PIPELINE_UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
# The outer bound on any request body, answered 413 past it (mozukai_hub.request_limits). Not
# only the API's uploads: an admin product save carries Product.image and every ProductImage
# inline photo in one body, with no per-file limit, so a floor of 64 MiB keeps a multi-photo
# save working; above that, the largest upload limit plus 1 MiB for the form around it.
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=max(64 * 1024 * 1024, max(PIPELINE_UPLOAD_MAX_BYTES, AVATAR_MAX_BYTES) + 1024 * 1024))
PIPELINE_UPLOAD_MAX_PIXELS = env.int("PIPELINE_UPLOAD_MAX_PIXELS", default=40_000_000)
# Wall-clock (and CPU) seconds ffprobe/ffmpeg may spend proving that an uploaded video is one.
PIPELINE_UPLOAD_PROBE_SECONDS = env.int("PIPELINE_UPLOAD_PROBE_SECONDS", default=20)
# Moderation: "local" rules, or "openai" (omni-moderation-latest; needs OPENAI_API_KEY).
MODERATION_BACKEND = env.str("MODERATION_BACKEND", default="local")
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="https://api.openai.com/v1")
if MODERATION_BACKEND not in {"local", "openai"} or (MODERATION_BACKEND == "openai" and not OPENAI_API_KEY):
    raise ImproperlyConfigured("MODERATION_BACKEND must be 'local', or 'openai' with OPENAI_API_KEY set.")

# --- Studio: thumbnails and photo styling (issue 11) ----------------------------------------
# Each remote engine is off until its key is set (a job naming it is then a 400).
GEMINI_API_KEY = env.str("GEMINI_API_KEY", default="")
GEMINI_BASE_URL = env.str("GEMINI_BASE_URL", default="https://generativelanguage.googleapis.com")
GEMINI_IMAGE_MODEL = env.str("GEMINI_IMAGE_MODEL", default="gemini-2.5-flash-image")
SEEDREAM_API_KEY = env.str("SEEDREAM_API_KEY", default="")
SEEDREAM_BASE_URL = env.str("SEEDREAM_BASE_URL", default="https://ark.ap-southeast.bytepluses.com")
SEEDREAM_MODEL = env.str("SEEDREAM_MODEL", default="seedream-4-0-250828")
FAL_KEY = env.str("FAL_KEY", default="")
FAL_QUEUE_URL = env.str("FAL_QUEUE_URL", default="https://queue.fal.run")
FAL_IMAGE_MODEL = env.str("FAL_IMAGE_MODEL", default="fal-ai/flux/dev")
FAL_POLL_SECONDS = env.float("FAL_POLL_SECONDS", default=1.0)
OPENROUTER_API_KEY = env.str("OPENROUTER_API_KEY", default="")
OPENROUTER_BASE_URL = env.str("OPENROUTER_BASE_URL", default="https://openrouter.ai/api/v1")
OPENROUTER_MODEL = env.str("OPENROUTER_MODEL", default="google/gemini-3-pro-image-preview")
# fal: the model a project's reference image is sent to (image-to-image); how long a queued
# request may take before it is cancelled. Gemini, Seedream, OpenRouter: seconds per call.
FAL_IMAGE_TO_IMAGE_MODEL = env.str("FAL_IMAGE_TO_IMAGE_MODEL", default="fal-ai/flux/dev/image-to-image")
FAL_TIMEOUT_SECONDS = env.int("FAL_TIMEOUT_SECONDS", default=600)
IMAGE_PROVIDER_TIMEOUT_SECONDS = env.float("IMAGE_PROVIDER_TIMEOUT_SECONDS", default=120.0)
# -- end studio (issue 11) --

# --- Studio: films (issue 12) -----------------------------------------------------------------
FFMPEG_BINARY = env.str("FFMPEG_BINARY", default="ffmpeg")
FFPROBE_BINARY = env.str("FFPROBE_BINARY", default="ffprobe")
ESPEAK_BINARY = env.str("ESPEAK_BINARY", default="espeak-ng")
FAL_VIDEO_MODEL = env.str("FAL_VIDEO_MODEL", default="fal-ai/kling-video/v2.1/standard/image-to-video")
# Image moderation (scene images): open_nsfw score (0–1) at or above which an image is refused.
# Yahoo's guidance: below 0.2 is likely safe, above 0.8 likely not safe for work.
MODERATION_IMAGE_NSFW_THRESHOLD = env.float("MODERATION_IMAGE_NSFW_THRESHOLD", default=0.8)
# Voice samples on the film page: how many a user may render per minute.
FILM_VOICE_SAMPLES_PER_MINUTE = env.int("FILM_VOICE_SAMPLES_PER_MINUTE", default=20)
# -- end films (issue 12) --

# --- Design chat (issue 13) ------------------------------------------------------------------
# Assistant backend: "local" (offline, default), "runpod" (RUNPOD_* above) or "openai" (any
# OpenAI-compatible chat-completions server).
CHAT_BACKEND = env.str("CHAT_BACKEND", default="local")
CHAT_OPENAI_BASE_URL = env.str("CHAT_OPENAI_BASE_URL", default="https://api.openai.com/v1")
CHAT_OPENAI_API_KEY = env.str("CHAT_OPENAI_API_KEY", default="")
CHAT_OPENAI_MODEL = env.str("CHAT_OPENAI_MODEL", default="gpt-4o-mini")
# Seconds without a byte from the model server before a streamed answer counts as dropped.
CHAT_OPENAI_TIMEOUT_SECONDS = env.float("CHAT_OPENAI_TIMEOUT_SECONDS", default=60.0)
# A message's content is at most this many characters (REST, socket and the assistant's answers).
CHAT_MESSAGE_MAX_CHARS = env.int("CHAT_MESSAGE_MAX_CHARS", default=20_000)
# How long an action waits for its answer (seed 001: 7200 s; metadata_json.status_timeout_seconds overrides).
CHAT_RUN_TIMEOUT_SECONDS = env.int("CHAT_RUN_TIMEOUT_SECONDS", default=7200)
# `sync: true` waits within the request at most this long, then answers 202 with the run.
CHAT_SYNC_WAIT_SECONDS = env.float("CHAT_SYNC_WAIT_SECONDS", default=25.0)
# Assistant actions per user: unfinished at once, and asked for per minute (REST and socket
# alike; past either, 429). 0 turns a cap off. Remote backends bill per run.
CHAT_MAX_RUNS_IN_FLIGHT = env.int("CHAT_MAX_RUNS_IN_FLIGHT", default=64)
CHAT_MAX_RUNS_PER_MINUTE = env.int("CHAT_MAX_RUNS_PER_MINUTE", default=120)
# A task worker keeps its database connection from one task to the next: with CONN_MAX_AGE 0
# django-q2 closes it before every task, and a new PostgreSQL connection costs ~6 ms (and a
# server process) per task, a third of a chat run. The cluster closes every connection before it
# forks a worker, and a connection that broke is replaced at the next task (health checks).
if DATABASE_URL and running_task_cluster:
    DATABASES["default"]["CONN_MAX_AGE"] = 600
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# -- end design chat (issue 13) --

# --- Photogrammetry (issue 14) ---------------------------------------------------------------
COLMAP_BINARY = env.str("COLMAP_BINARY", default="colmap")
# Photos in one set (seed 004's POST /pipeline/upload) and the largest photo; a set that keeps
# fewer good photos after pre-flight is refused before any credit moves.
PHOTOGRAMMETRY_MIN_PHOTOS = env.int("PHOTOGRAMMETRY_MIN_PHOTOS", default=8)
PHOTOGRAMMETRY_MAX_PHOTOS = env.int("PHOTOGRAMMETRY_MAX_PHOTOS", default=200)
PHOTOGRAMMETRY_PHOTO_MAX_BYTES = env.int("PHOTOGRAMMETRY_PHOTO_MAX_BYTES", default=25 * 1024 * 1024)
# Address space (bytes) each COLMAP step may map: its threads reserve large arenas.
COLMAP_MEMORY_BYTES = env.int("COLMAP_MEMORY_BYTES", default=16 * 1024 * 1024 * 1024)
# Django refuses a multipart body with more files than this (its default is 100).
DATA_UPLOAD_MAX_NUMBER_FILES = max(100, PHOTOGRAMMETRY_MAX_PHOTOS + 10)
# -- end photogrammetry (issue 14) --

# --- E-mail ------------------------------------------------------------------------------

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Mozukai Hub <noreply@localhost>")

# --- Billing -------------------------------------------------------------------------------

# The one price table: credits per unit of each billable thing (billing.services.price_quote).
CREDIT_PRICES = {
    "thumbnail": env.int("CREDIT_PRICE_THUMBNAIL", default=1),  # per variant
    "film": env.int("CREDIT_PRICE_FILM", default=5),
    "photo_style": env.int("CREDIT_PRICE_PHOTO_STYLE", default=1),
    "text_to_3d": env.int("CREDIT_PRICE_TEXT_TO_3D", default=1),
    "scad_render": env.int("CREDIT_PRICE_SCAD_RENDER", default=0),
    "photogrammetry": env.int("CREDIT_PRICE_PHOTOGRAMMETRY", default=3),
}
# Credits a new anonymous client IP receives, once (seed 002).
DEFAULT_FREE_CREDITS = env.int("DEFAULT_FREE_CREDITS", default=3)
# Credit packs on sale: credits -> price in minor units of CREDIT_CURRENCY.
CREDIT_PACKS = {
    5: env.int("CREDIT_PACK_5_PRICE", default=500),
    10: env.int("CREDIT_PACK_10_PRICE", default=900),
    20: env.int("CREDIT_PACK_20_PRICE", default=1600),
}
CREDIT_CURRENCY = env.str("CREDIT_CURRENCY", default="usd")
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Seconds a webhook signature stays acceptable (Stripe's default tolerance).
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
# Where the Stripe API lives; tests point it at a local server that answers as Stripe does.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
# Dev payment mode: checkouts complete locally through the same fulfilment path. Only when no
# Stripe key is set and DEBUG is on; production refuses to start without Stripe keys (above).
BILLING_DEV_PAYMENTS = not STRIPE_SECRET_KEY and DEBUG and not PRODUCTION

# --- Internationalisation ----------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security ----------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT else None
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REFERRER_POLICY = "same-origin"

# --- Logging: stdout, one line per request (mozukai_hub.middleware) ---------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "line"}},
    "root": {"handlers": ["stdout"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # The request line comes from our middleware; Django's own would repeat it.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
    },
}
