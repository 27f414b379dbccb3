from collections.abc import Generator
from pathlib import Path

import pytest

# The tail of each worker log attached to a failed test's report: enough to see the last run.
LOG_TAIL_CHARS = 20_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the worker logs to the report of a failed test, so a failure under load (a
    slow start, a crash, a lost task) can be diagnosed from the test output alone."""
    report = yield
    if report.failed:
        logs: list[Path] = getattr(item, "worker_logs", [])
        for log in logs:
            if log.exists():
                text = log.read_text(errors="replace")[-LOG_TAIL_CHARS:]
                report.sections.append((f"Celery worker log {log.name} ({report.when})", text))
    return report
