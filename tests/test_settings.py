import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for their own process; a deployment never has it.
    inherited = {"DATABASE_URL", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in inherited}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check_without_warnings() -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        AGORA_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="agora.example.org",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = _manage("check", AGORA_ENV="production", ALLOWED_HOSTS="agora.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_embedded_default_uses_sqlite_and_eager_tasks() -> None:
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER)",
        CELERY_BROKER_URL="",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["django.db.backends.sqlite3", "True"]


def _settings_import(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings alone in a fresh process with exactly this environment (no .env
    values or inherited variables), as a server starting would."""
    clean = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "PYTHONPATH"}}
    return subprocess.run(
        [sys.executable, "-c", "import deliberation.settings"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {
    "AGORA_ENV": "production",
    "SECRET_KEY": "k" * 50,
    "ALLOWED_HOSTS": "agora.example.org",
    "REDIS_URL": "redis://127.0.0.1:6379/1",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "WEB_CONCURRENCY": "4",
}


def test_a_sound_production_environment_starts() -> None:
    result = _settings_import(**PRODUCTION)
    assert result.returncode == 0, result.stderr


def test_production_refuses_the_published_development_key() -> None:
    result = _settings_import(
        **{**PRODUCTION, "SECRET_KEY": "agora-development-only-key-not-for-production-use"}
    )
    assert result.returncode != 0
    assert "development key" in result.stderr


def test_debug_off_refuses_the_development_key_even_outside_production() -> None:
    result = _settings_import(DEBUG="false")
    assert result.returncode != 0
    assert "development key" in result.stderr


def test_production_refuses_a_secret_key_shorter_than_50_characters() -> None:
    result = _settings_import(**{**PRODUCTION, "SECRET_KEY": "s3cret-but-short-" * 2})
    assert result.returncode != 0
    assert "at least 50" in result.stderr


def test_production_refuses_a_per_process_cache_when_several_web_processes_serve() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    result = _settings_import(**env)
    assert result.returncode != 0
    assert "REDIS_URL is unset" in result.stderr


def test_production_refuses_a_per_process_cache_beside_a_worker() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "REDIS_URL"}
    result = _settings_import(**{**env, "WEB_CONCURRENCY": "1"})
    assert result.returncode != 0
    assert "REDIS_URL is unset" in result.stderr


def test_production_with_one_process_and_no_broker_may_use_the_memory_cache() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    result = _settings_import(**{**env, "WEB_CONCURRENCY": "1"})
    assert result.returncode == 0, result.stderr


def test_production_refuses_cache_and_broker_in_one_redis_database() -> None:
    result = _settings_import(
        **{**PRODUCTION, "REDIS_URL": "redis://127.0.0.1:6379/0"}  # the broker's database
    )
    assert result.returncode != 0
    assert "same Redis database" in result.stderr
