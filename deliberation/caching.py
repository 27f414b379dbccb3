"""Versions that tell each process its cached conversations and statements are stale.

Every vote reads its conversation and statement, and every card the accepted statements:
they are kept in each process's memory (deliberation.selectors.conversations), checked
against a version in the shared cache, one small read per request. A change bumps the version
at once, so its own transaction reads it back, and again once it commits: a process that
reloaded in between (and so missed the uncommitted change) reloads once more.

Saves and deletes bump through deliberation.signals, queryset updates through the models'
querysets, bulk inserts through their callers.
"""

import uuid

from django.core.cache import cache
from django.db import transaction

CONVERSATIONS_VERSION = "agora:conversations-version"
# Every cache key expires (the cache may run under volatile-lru); a version that expires or
# is evicted comes back as a new one, and every process reloads once.
VERSION_TIMEOUT_S = 24 * 3600


def statements_version_key(conversation_id: int) -> str:
    return f"agora:statements-version:{conversation_id}"


def version_read(key: str) -> str:
    version: str | None = cache.get(key)
    if version is None:
        cache.add(key, uuid.uuid4().hex, timeout=VERSION_TIMEOUT_S)
        version = cache.get(key) or ""
    return version


def _bump(key: str) -> None:
    def bump() -> None:
        cache.set(key, uuid.uuid4().hex, timeout=VERSION_TIMEOUT_S)

    bump()
    transaction.on_commit(bump, robust=True)


def conversations_cache_forget() -> None:
    """Make every process reload the conversations it has cached."""
    _bump(CONVERSATIONS_VERSION)


def statements_cache_forget(*, conversation_id: int) -> None:
    """Make every process reload this conversation's statements."""
    _bump(statements_version_key(conversation_id))
