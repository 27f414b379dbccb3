"""Conversations and fake-model answers shared by the assistant's tests."""

import json
from collections.abc import Callable
from typing import Any

from deliberation.models import Snapshot, Statement
from deliberation.services.snapshots import snapshot_run
from tests.fake_openai import data_block
from tests.snapshot_data import Camps, two_camps

# two_camps: camp A agrees with the odd statements and disagrees with the even ones, camp B
# the reverse, and everyone agrees with the last.
TEXTS = [
    "Ban cars from the old town centre on weekends.",
    "Build more protected bike lanes downtown.",
    "Lower parking fees for residents of the centre.",
    "Plant more trees along every street.",
    "Raise the fuel tax to pay for more buses.",
    "Keep the public library open on Sundays.",
]
# Drafts near enough to an existing statement to forecast from (the "related" tier of the
# fake model's hashed n-gram embeddings), not so near as to be a copy of it.
BIKE_LANES = "Build protected bike lanes in the suburbs too."
LIBRARY_TOO = "Open the public library on Sunday evenings too."
UNRELATED_DRAFT = "Hold a citizens' assembly on housing every spring."


def named_camps() -> Camps:
    """Two camps of 12 that vote on statements with real-looking, distinct texts."""
    camps = two_camps(per_camp=12, n_statements=len(TEXTS))
    for statement, text in zip(camps.statements, TEXTS, strict=True):
        Statement.objects.filter(pk=statement.pk).update(text=text)
    return camps


def run_snapshot(camps: Camps) -> Snapshot:
    ran = snapshot_run(
        snapshot_id=Snapshot.objects.create(conversation_id=camps.conversation.pk).pk
    )
    assert ran is not None and ran.k == 2
    return Snapshot.objects.get(pk=ran.pk)


def answer_stances_same(body: dict[str, Any]) -> dict[str, Any]:
    """The fake model's stance check: every compared pair makes the same claim."""
    content = body["messages"][-1]["content"]
    pairs = json.loads(content[content.index("<data>") + 6 : content.index("</data>")])
    return {"pairs": [{"pair": item["pair"], "relation": "same"} for item in pairs]}


# A minimum wage conversation (two_camps order: camp A agrees with the odd statements, camp B
# with the even ones, everyone with the last), and for each statement a fluent sentence on
# the same subject that says the opposite of it: what a careless model writes.
WAGE_TEXTS = [
    "This will cause small businesses to go out of business.",
    "Raise the minimum wage for every worker in the city.",
    "Young workers will lose their first jobs.",
    "Nobody who works full time should live in poverty.",
    "Prices in local shops will go up for everyone.",
    "The city should publish how the new wage affects jobs.",
]
CONTRADICTIONS = {
    WAGE_TEXTS[0]: "{group} strongly supports raising the wage, sure it will not hurt "
    "small businesses.",
    WAGE_TEXTS[1]: "{group} wants the minimum wage kept where it is for workers in the city.",
    WAGE_TEXTS[2]: "{group} expects young workers to find their first jobs more easily.",
    WAGE_TEXTS[3]: "{group} accepts that some people who work full time will live in poverty.",
    WAGE_TEXTS[4]: "{group} is confident prices in local shops will stay the same.",
    WAGE_TEXTS[5]: "{group} sees no need for the city to publish anything about jobs.",
}


def wage_camps() -> Camps:
    camps = two_camps(per_camp=12, n_statements=len(WAGE_TEXTS))
    for statement, text in zip(camps.statements, WAGE_TEXTS, strict=True):
        Statement.objects.filter(pk=statement.pk).update(text=text)
    return camps


Judge = Callable[[str, str], tuple[bool, str]]


def honest_judge(sentence: str, statement: str) -> tuple[bool, str]:
    """A verifier that finds every sentence supported, with the stance its words state."""
    return True, "disagree" if "disagree" in sentence.lower() else "agree"


def judge_flagging(written: set[str]) -> Judge:
    """A verifier that sees through the sentences in ``written`` (contradictions the fake
    summarizer wrote): unsupported, and the opposite stance; honest about the rest."""

    def judge(sentence: str, statement: str) -> tuple[bool, str]:
        return (False, "disagree") if sentence in written else honest_judge(sentence, statement)

    return judge


def verifier(judge: Judge) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The fake model's answer to a summary verification request, sentence by sentence."""

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        items = data_block(body["messages"][-1]["content"])["sentences"]
        verdicts = []
        for item in items:
            judged = [(c["id"], *judge(item["text"], c["text"])) for c in item["cited"]]
            verdicts.append(
                {
                    "sentence": item["sentence"],
                    "supported": all(ok for _, ok, _ in judged),
                    "citations": [{"id": ref, "stance": stance} for ref, _, stance in judged],
                }
            )
        return {"sentences": verdicts}

    return answer
