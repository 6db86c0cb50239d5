"""A waiting enterprise's place, kept as three numbers on the board, agrees with the queue in order, whatever happens."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.casequery.projections.queue import from_document, queue_place, to_document
from services.casequery.projections.story import Board, empty_board, fold_board
from tests.unit.test_case_story_fold import assigned, board_event, enterprise, queued

ENTERPRISES = 6


def left(n: int, case_id: str) -> dict[str, Any]:
    return {"enterprise": enterprise(n), "case_id": case_id, "enterprise_left": True}


class Reference:
    """The queue as a plain list in order, as a user would count places."""

    def __init__(self) -> None:
        self.queue: list[tuple[int, str]] = []

    def join(self, n: int, case_id: str) -> None:
        if not any(m == n for m, _ in self.queue):
            self.queue.append((n, case_id))

    def leave(self, n: int) -> None:
        self.queue = [(m, c) for m, c in self.queue if m != n]

    def waits(self, n: int) -> bool:
        return any(m == n for m, _ in self.queue)

    def places(self) -> dict[str, int]:
        return {case_id: index + 1 for index, (_, case_id) in enumerate(self.queue)}


def fold_steps(steps: list[tuple[str, int]]) -> tuple[Board, Reference, set[str]]:
    board: Board = empty_board("board-finance", "finance")
    reference, cases, version = Reference(), set(), 0
    for index, (kind, n) in enumerate(steps):
        event: tuple[str, dict[str, Any]] | None = None
        if kind == "join":
            case_id = f"c{index}"
            first = not reference.waits(n)
            event = ("EnterpriseQueued", queued(n, case_id))
            reference.join(n, case_id)
            if first:
                cases.add(case_id)
        elif kind == "serve" and reference.waits(n):
            event = (
                "ConciergeAssigned",
                assigned(n, [c for m, c in reference.queue if m == n], "s1", "王科长"),
            )
            reference.leave(n)
        elif kind == "resolve" and reference.waits(n):
            event = ("CaseLeftQueue", left(n, next(c for m, c in reference.queue if m == n)))
            reference.leave(n)
        if event is not None:
            version += 1
            board, _ = fold_board(board, board_event(event[0], version, event[1]))
    return board, reference, cases


steps_strategy = st.lists(
    st.tuples(st.sampled_from(["join", "join", "serve", "resolve"]), st.integers(1, ENTERPRISES)), max_size=60
)


@given(steps_strategy)
@settings(max_examples=300, deadline=None)
def test_every_waiting_case_has_the_place_the_queue_in_order_gives_it_after_any_joins_and_leaves(
    steps: list[tuple[str, int]],
) -> None:
    board, reference, cases = fold_steps(steps)

    expected = reference.places()
    for case_id in cases:
        place = queue_place(board, case_id)
        assert (place or {}).get("position") == expected.get(case_id), case_id
        if place:
            assert place["enterprises_ahead"] == place["position"] - 1
    # Every ordinal from the head to the last joined waits or is a hole: the three numbers count the queue.
    holes = board["holes"]
    assert holes == sorted(set(holes)) and all(board["head"] < hole <= board["joined"] for hole in holes)
    assert board["joined"] - board["head"] + 1 - len(holes) == len(expected)


def test_served_in_turn_the_board_keeps_no_holes_and_a_late_leaver_makes_one_until_its_turn_passes() -> None:
    steps = [("join", 1), ("join", 2), ("join", 3), ("join", 4)]
    board, _, _ = fold_steps([*steps, ("resolve", 3)])  # the third leaves out of turn: a hole
    assert board["holes"] == [3] and queue_place(board, "c3")["position"] == 3  # type: ignore[index]

    board, _, _ = fold_steps([*steps, ("resolve", 3), ("serve", 1), ("serve", 2)])  # its turn passed
    assert board["holes"] == [] and board["head"] == 4
    assert queue_place(board, "c3")["position"] == 1  # type: ignore[index]


def test_an_enterprise_served_and_queued_again_goes_to_the_end() -> None:
    board, _, _ = fold_steps([("join", 1), ("join", 2), ("serve", 1), ("join", 1)])
    assert queue_place(board, "c1")["position"] == 1  # type: ignore[index]
    assert queue_place(board, "c3")["position"] == 2  # type: ignore[index]


def test_a_board_stored_with_its_queue_inside_reads_as_entries_in_the_same_order() -> None:
    board, _, _ = fold_steps([("join", 1), ("join", 2), ("join", 3)])
    waiting = sorted(board["queue"].values(), key=lambda e: e["ordinal"])
    older = {  # what a board document held before the queue had documents of its own
        **to_document(board),
        "queue": [
            {k: e[k] for k in ("credit_code", "enterprise", "case_ids", "queued_at", "reason")}
            for e in waiting
        ],
    }
    for key in ("joined", "head", "holes"):
        del older[key]

    read, entries = from_document(older)

    assert read is not None and [e["case_ids"] for e in entries] == [["c0"], ["c1"], ["c2"]]
    assert [queue_place(read, c)["position"] for c in ("c0", "c1", "c2")] == [1, 2, 3]  # type: ignore[index]
    after, _ = fold_board(read, board_event("ConciergeAssigned", 4, assigned(1, ["c0"], "s1", "王科长")))
    assert queue_place(after, "c1")["position"] == 1  # type: ignore[index]
