"""gunicorn settings for Agora: ``gunicorn -c deploy/gunicorn.conf.py``.

Everything a deployment tunes comes from the environment, so the supervisor config, a
benchmark or a container can reuse this file as it is:

- ``AGORA_BIND``: address to listen on (default ``127.0.0.1:8000``; a reverse proxy in front);
- ``WEB_CONCURRENCY``: worker processes (default 2). It is exported back to the environment
  so Django's settings see the same count and refuse a per-process cache when it is above 1;
- ``FORWARDED_ALLOW_IPS``: proxies whose X-Forwarded-* headers gunicorn trusts.
"""

import os

wsgi_app = "deliberation.wsgi:application"
bind = os.environ.get("AGORA_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
os.environ["WEB_CONCURRENCY"] = str(workers)
# Sync workers: each request holds one process, and with CONN_MAX_AGE its database
# connection, so PostgreSQL sees at most `workers` connections per web machine.
worker_class = "sync"
timeout = 60
graceful_timeout = 30
# Recycle workers now and then so a slow leak cannot grow for ever.
max_requests = 5000
max_requests_jitter = 500
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
