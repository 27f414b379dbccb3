"""Cache invalidation: the only use of signals here. Conversations and accepted statements
are cached per process (deliberation.selectors.conversations), the latest snapshot's id in
the shared cache (deliberation.selectors.groups); any save or delete forgets them. Writes
that bypass signals (queryset updates, bulk writes) call the same functions themselves."""

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from deliberation.caching import conversations_cache_forget, statements_cache_forget
from deliberation.models import Conversation, Snapshot, Statement
from deliberation.selectors.groups import latest_id_key


@receiver([post_save, post_delete], sender=Conversation)
@receiver(m2m_changed, sender=Conversation.moderators.through)
def _conversation_changed(**kwargs: Any) -> None:
    conversations_cache_forget()


@receiver([post_save, post_delete], sender=Statement)
def _statement_changed(instance: Statement, **kwargs: Any) -> None:
    statements_cache_forget(conversation_id=instance.conversation_id)


@receiver([post_save, post_delete], sender=Snapshot)
def _snapshot_changed(instance: Snapshot, **kwargs: Any) -> None:
    # Runs finish with a queryset update and set the latest id themselves; this covers
    # snapshots saved one by one (operators, tests).
    key = latest_id_key(instance.conversation_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key), robust=True)
