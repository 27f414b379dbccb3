"""Topics: what a conversation's accepted statements are about (clustering/topics.py fits them).

A topic's ``number`` is the stable id the fit keeps across recomputes by matching, so its
name and its link survive new statements; a retired number is never given to another topic.
"""

from django.db import models

from deliberation.models.conversations import Conversation, Statement


class TopicNameSource(models.TextChoices):
    MODEL = "model", "Named by the model, checked against its statements"
    KEYWORDS = "keywords", "Keywords of its statements"
    MODERATOR = "moderator", "Named by a moderator"


class Topic(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="topics")
    number = models.PositiveIntegerField(help_text="Stable across recomputes; 0 is 'other'.")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="subtopics"
    )
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True, default="")
    name_source = models.CharField(
        max_length=10, choices=TopicNameSource.choices, default=TopicNameSource.KEYWORDS
    )
    renamed_by_moderator = models.BooleanField(default=False)
    size = models.PositiveIntegerField(default=0)
    centroid = models.BinaryField(help_text="float32 unit vector of the local model.")
    spread = models.FloatField(
        help_text="A new statement less similar than this to the centroid is not assigned."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["conversation", "number"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "number"], name="topic_unique_number")
        ]

    def __str__(self) -> str:
        return f"topic {self.number} of {self.conversation_id}: {self.name}"

    @property
    def is_other(self) -> bool:
        return self.number == 0


class StatementTopic(models.Model):
    """The topic (and subtopic) of one statement: by the last fit, or nearest since then."""

    statement = models.OneToOneField(
        Statement, on_delete=models.CASCADE, primary_key=True, related_name="topic_assignment"
    )
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="assignments")
    subtopic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by_fit = models.BooleanField(help_text="False: assigned to the nearest topic on arrival.")

    def __str__(self) -> str:
        return f"{self.statement_id} in topic {self.topic_id}"


class TopicFit(models.Model):
    """One conversation's topic-fit state: the claim a worker takes and what the last fit saw."""

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, primary_key=True, related_name="topic_fit"
    )
    statements_fitted = models.PositiveIntegerField(default=0)
    assigned_since = models.PositiveIntegerField(
        default=0, help_text="Statements assigned to the nearest topic since the last fit."
    )
    next_number = models.PositiveIntegerField(default=1)
    k = models.PositiveIntegerField(
        default=0, help_text="The last fit's number of k-means clusters (0: none yet)."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"topic fit of {self.conversation_id}"
