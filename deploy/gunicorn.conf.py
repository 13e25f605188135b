"""gunicorn settings for Mozukai Hub (`gunicorn -c deploy/gunicorn.conf.py mozukai_hub.wsgi`).

Used by the systemd unit, the Procfile and the production-stack test. Command-line flags win
(the test binds a loopback port of its own). Sync workers: Django views are synchronous and
the psycopg pool is per process; scale out with more processes here (GUNICORN_WORKERS) or more
machines behind the proxy.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count()))
worker_class = "sync"
# A request slower than this is killed and its worker replaced (the proxy waits 120 s).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 30
# nginx keeps connections to the upstream open (keepalive 32).
keepalive = 75
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = 500
# The request line is logged by the app (mozukai_hub.middleware); errors go to stderr.
accesslog = None
errorlog = "-"
# Only the local proxy may say the request came over https (X-Forwarded-Proto).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
