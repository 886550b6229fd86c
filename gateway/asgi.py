"""ASGI entry point for process managers
(``uvicorn gateway.asgi:app --workers N --no-proxy-headers``: the app itself decides whose
``X-Forwarded-For`` to believe, ``GATEWAY_TRUSTED_PROXIES``).

The model loads before the worker accepts connections (``wait=True``). Under ``--workers N``
every worker accepts from one shared listening socket, so a worker that listened while loading
would answer its share of traffic with 503 not_ready: after a crash, the replacement worker
did exactly that for seconds while the surviving worker could have served everything
(tests/server/test_load_faults.py). Rolling restarts (SIGHUP) wait ``--timeout-worker-healthcheck``
seconds for a new worker to be ready: set it above the model's load time (`rubric serve --workers N`
sets 30).
"""

from gateway.console import with_console
from gateway.server import create_app

app = with_console(create_app(wait=True))  # the web console at /ui
