"""The case's history as a reader wants it: its own events and the board decisions about it, in one order."""

from __future__ import annotations

from typing import Any

from services.casequery.application.queries import case_history
from services.casequery.application.stories import Stories
from shared.contracts.envelope import EventEnvelope
from shared.eventstore.recorder import EventRecorder

Entry = dict[str, Any]

# What each case event means, for the reader (Chinese first).
CASE_LABELS = {
    "CaseOpened": "立案 (case opened)",
    "ConciergeAssignedToCase": "专责店小二接手 (concierge on the case)",
    "ConciergeWithdrawnFromCase": "专责店小二撤出，等待分配 (concierge withdrawn: waiting)",
    "ProblemClarified": "摸清问题 (problem clarified)",
    "CoordinationTaskOpened": "积极协调：发起协调事项 (coordination task opened)",
    "CoordinationTaskChased": "积极协调：催办 (task chased)",
    "CoordinationTaskClosed": "积极协调：事项办结 (task closed)",
    "CoordinationTaskCancelled": "积极协调：事项取消 (task cancelled)",
    "CoordinationTaskDueRecomputed": "办理期限重算 (due date recomputed)",
    "ProcedureHandled": "主动代办 (procedure handled)",
    "CaseResolved": "加快解决：问题解决 (case resolved)",
    "PolicyRecommended": "宣讲政策 (policy recommended)",
    "RatingCollected": "征求意见：企业评价 (rating collected)",
    "CaseReopened": "评价不满意，重新办理 (case reopened)",
}


def case_entry(envelope: EventEnvelope) -> Entry:
    """Return a case event as a history entry."""
    return {
        "source": "case",
        "stream_id": envelope.stream_id,
        "version": envelope.version,
        "position": envelope.position,
        "event_id": str(envelope.event_id),
        "event_type": envelope.event_type,
        "schema_version": envelope.schema_version,
        "occurred_at": envelope.occurred_at,
        "recorded_at": envelope.recorded_at,
        "actor": envelope.actor.model_dump(),
        "summary": CASE_LABELS.get(envelope.event_type, envelope.event_type),
        "data": envelope.data,
        "decision": None,
    }


def _before(a: Entry, b: Entry) -> bool:
    # The store's global position is the true order of two streams; an event not sequenced yet has none,
    # and then the recording time (one clock per writer, close enough between two streams) decides.
    if a["position"] is not None and b["position"] is not None:
        return bool(a["position"] < b["position"])
    return bool(a["recorded_at"] <= b["recorded_at"])


def merge(case_entries: list[Entry], board_entries: list[Entry]) -> list[Entry]:
    """Merge two histories, each already in its stream's order, keeping both orders."""
    merged: list[Entry] = []
    i = j = 0
    while i < len(case_entries) and j < len(board_entries):
        if _before(case_entries[i], board_entries[j]):
            merged.append(case_entries[i])
            i += 1
        else:
            merged.append(board_entries[j])
            j += 1
    return [*merged, *case_entries[i:], *board_entries[j:]]


async def story_history(
    bureau: str, case_id: str, *, recorder: EventRecorder, stories: Stories
) -> list[Entry]:
    """Return the case's events and the board decisions that concern it, in order."""
    events = await case_history(bureau, case_id, recorder=recorder)
    story = (await stories.of_cases(bureau, [case_id])).get(case_id)
    return merge([case_entry(e) for e in events], list(story["entries"]) if story else [])
