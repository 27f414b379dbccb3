"""A real Celery worker for the tests in this folder, with two fault hooks around the math.

Run as ``python -m tests.celery.worker_main WORKER-ARGS...``: it sets Django up, wraps the
clustering call of deliberation.services.snapshots, then starts the ordinary worker of the
``deliberation`` Celery app (prefork children inherit the wrapper). The hooks, read from the
environment at each run, only exist in this test process:

- ``AGORA_TEST_SLOW_S``: sleep this long before computing, so a test can kill a worker in
  the middle of a run;
- ``AGORA_TEST_FAIL_FILE``: while this file exists, the clustering raises;
- ``AGORA_TEST_CALLS_FILE``: append one line per clustering call, so a test can count them.
"""

import os
import sys
import time
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deliberation.settings")
django.setup()

from deliberation.celery import app  # noqa: E402
from deliberation.services import snapshots  # noqa: E402

_real_analyze = snapshots.analyze


def _analyze_with_faults(*args: Any, **kwargs: Any) -> Any:
    calls = os.environ.get("AGORA_TEST_CALLS_FILE")
    if calls:
        with open(calls, "a") as log:
            log.write(f"{os.getpid()}\n")
    time.sleep(float(os.environ.get("AGORA_TEST_SLOW_S", "0")))
    fail = os.environ.get("AGORA_TEST_FAIL_FILE")
    if fail and Path(fail).exists():
        raise RuntimeError("injected fault: the clustering crashed")
    return _real_analyze(*args, **kwargs)


snapshots.analyze = _analyze_with_faults

if __name__ == "__main__":
    app.worker_main(["worker", *sys.argv[1:]])
