"""The local Lambda's transition table, in process: events in, actions out, no sockets.

Each test plays a sequence Lambda's documentation (and RIE) describes and checks the
actions a driver would carry out. The subprocess tests beside this file run the same
behaviour end to end through real runtimes.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest

from local_lambda import lifecycle, protocol
from local_lambda.lifecycle import (
    TRANSITIONS,
    CloseRegistration,
    Deliver,
    Ended,
    Event,
    Freeze,
    IllegalTransition,
    InitDone,
    InitFailed,
    Lifecycle,
    Phase,
    Respond,
    Settle,
    Slot,
    StartShutdown,
    TakeSnapshot,
    Thaw,
    next_state,
)
from local_lambda.model import InvokeOutcome

OK = InvokeOutcome(b'{"ok": true}')


class Clock:
    """A clock the test moves by hand (nanoseconds)."""

    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def machine(slots: int = 1, **kwargs: bool) -> tuple[Lifecycle, Clock, set[str]]:
    """A machine whose parked requests are strings; those in ``gone`` have disconnected."""
    clock = Clock()
    gone: set[str] = set()
    m = Lifecycle(slots, 3000, clock, lambda: 1_700_000_000_000, lambda t: t not in gone, **kwargs)
    return m, clock, gone


def ready(m: Lifecycle, polls: int = 1) -> None:
    for i in range(polls):
        m.next_polled(f"poll-{i}", 10)


def kinds(actions: list[lifecycle.Action]) -> list[type]:
    return [type(a) for a in actions]


def test_the_first_poll_closes_registration_and_ends_init_then_freezes() -> None:
    m, _, _ = machine()
    actions = m.next_polled("poll", 10)
    assert kinds(actions) == [CloseRegistration, InitDone, Freeze]
    assert m.states == [Slot.IDLE]


def test_init_waits_for_every_extension_to_ask_for_its_first_event() -> None:
    m, _, _ = machine()
    m.extensions_changed(all_polled=False, quiet=False)
    assert InitDone not in kinds(m.next_polled("poll", 10))
    assert InitDone in kinds(m.extensions_changed(all_polled=True, quiet=True))


def test_an_invocation_submitted_during_init_is_delivered_when_init_ends() -> None:
    m, _, _ = machine()
    assert m.submitted("r1") == []
    actions = m.next_polled("poll", 10)
    assert actions[-1] == Deliver("poll", "r1", 1_700_000_003_000)  # deadline: now + timeout
    assert m.states == [Slot.INVOKING]


def test_duration_ends_at_the_next_poll_not_at_the_posted_result() -> None:
    m, _, _ = machine()
    ready(m)
    m.submitted("r1")  # thaws, then delivers
    assert m.result_posted("r1", OK) == [Settle("r1", OK)]
    assert m.states == [Slot.ANSWERED]  # answered, still billed
    actions = m.next_polled("poll-2", 55)
    assert Ended("r1", "done", 55) in actions
    assert m.states == [Slot.IDLE]


def test_with_a_busy_extension_the_invocation_ends_when_it_waits_again() -> None:
    m, clock, _ = machine()
    ready(m)
    m.submitted("r1")
    m.extensions_changed(all_polled=True, quiet=False)  # it took the INVOKE event
    m.result_posted("r1", OK)
    assert not [a for a in m.next_polled("poll-2", 55) if isinstance(a, Ended)]
    assert m.states == [Slot.WRAPPING_UP]
    clock.now = 99
    assert Ended("r1", "done", 99) in m.extensions_changed(all_polled=True, quiet=True)
    assert m.states == [Slot.IDLE]


def test_a_frozen_environment_thaws_before_an_event_is_delivered() -> None:
    m, _, _ = machine()
    ready(m)
    assert m.phase is Phase.FROZEN
    assert kinds(m.submitted("r1")) == [Thaw, Deliver]
    assert m.phase is Phase.READY
    m.result_posted("r1", OK)
    assert kinds(m.next_polled("poll-2", 55))[-1] is Freeze


def test_managed_instances_never_freeze() -> None:
    m, _, _ = machine(slots=2, freezes=False, resets_on_timeout=False)
    ready(m, polls=2)
    assert Freeze not in kinds(m.submitted("r1"))


def test_shutdown_thaws_and_refuses_further_polls() -> None:
    m, _, _ = machine()
    ready(m)
    assert m.shutdown_started() == [Thaw()]
    assert m.states == [Slot.SHUTTING_DOWN]
    (reply,) = m.next_polled("late", 70)
    assert isinstance(reply, Respond) and reply.status == 403


def test_a_poll_without_a_result_is_a_missing_response() -> None:
    m, _, _ = machine()
    ready(m)
    m.submitted("r1")
    actions = m.next_polled("poll-2", 55)
    (settle,) = [a for a in actions if isinstance(a, Settle)]
    assert settle.outcome.error_type == "Runtime.MissingResponse"
    assert Ended("r1", "done", 55) in actions


def test_a_second_poll_while_one_waits_is_403() -> None:
    m, _, _ = machine()
    ready(m)
    assert m.next_polled("again", 20) == [
        Respond("again", 403, protocol.invalid_state("InvocationNext", "InvocationNext"))
    ]


def test_a_poll_whose_client_left_is_replaced() -> None:
    m, _, gone = machine()
    ready(m)
    gone.add("poll-0")
    m.next_polled("again", 20)
    assert m.submitted("r1")[-1] == Deliver("again", "r1", 1_700_000_003_000)


@pytest.mark.parametrize(
    ("history", "status"),
    [("unknown", 400), ("posted", 403), ("timed out", 410)],
)
def test_posts_for_ids_not_running_are_refused_as_rie_does(history: str, status: int) -> None:
    m, _, _ = machine(resets_on_timeout=False)
    ready(m)
    m.submitted("r1")
    if history == "posted":
        m.result_posted("r1", OK)
    elif history == "timed out":
        m.deadline_passed("r1")
    (reply,) = m.check_post("post", "r1" if history != "unknown" else "nope")
    assert isinstance(reply, Respond) and reply.status == status


def test_a_streamed_response_under_way_refuses_a_second_post() -> None:
    m, _, _ = machine()
    ready(m)
    m.submitted("r1")
    assert m.check_post("post", "r1") == []
    m.stream_started("r1")
    assert m.states == [Slot.STREAMING]
    (reply,) = m.check_post("post-2", "r1")
    assert isinstance(reply, Respond) and reply.status == 403
    assert m.result_posted("r1", OK) == [Settle("r1", OK)]  # the stream's end
    assert m.states == [Slot.ANSWERED]


def test_a_stream_that_outlives_its_deadline_ends_in_410() -> None:
    m, _, _ = machine()
    ready(m)
    m.submitted("r1")
    m.stream_started("r1")
    assert m.stream_ended("end", "r1") == []  # in time: the driver posts the result
    m.deadline_passed("r1")
    assert m.stream_ended("end", "r1") == [Respond("end", 410, protocol.INVOKE_TIMEOUT)]


def test_a_timeout_ends_the_environment_on_lambda_and_only_the_invocation_on_lmi() -> None:
    m, clock, _ = machine()
    ready(m)
    m.submitted("r1")
    clock.now = 3_000
    assert m.deadline_passed("r1") == [Ended("r1", "timeout", 3_000), StartShutdown("timeout")]
    lmi, clock, _ = machine(slots=2, freezes=False, resets_on_timeout=False)
    ready(lmi, polls=2)
    lmi.submitted("a")
    lmi.submitted("b")
    clock.now = 3_000
    assert lmi.deadline_passed("a") == [Ended("a", "timeout", 3_000)]
    assert lmi.state_of("b") is Slot.INVOKING


def test_concurrent_slots_take_invocations_in_order_and_queue_the_rest() -> None:
    m, _, _ = machine(slots=2, freezes=False, resets_on_timeout=False)
    ready(m, polls=2)
    delivered = [a for r in ("a", "b", "c") for a in m.submitted(r) if isinstance(a, Deliver)]
    assert [(d.request, d.request_id) for d in delivered] == [("poll-0", "a"), ("poll-1", "b")]
    assert list(m.queue) == ["c"]
    m.result_posted("b", OK)
    actions = m.next_polled("poll-2", 80)  # the worker that answered b asks again
    assert Ended("b", "done", 80) in actions
    assert Deliver("poll-2", "c", 1_700_000_003_000) in actions


def test_an_init_error_fails_init_and_a_late_one_is_403() -> None:
    m, _, _ = machine()
    failure = InvokeOutcome(b"{}", "Unhandled", "Runtime.ImportModuleError", "error")
    assert m.init_error_posted("post", failure) == [
        Respond("post", 202, protocol.ACCEPTED),
        InitFailed(failure),
    ]
    late, _, _ = machine()
    ready(late)
    (reply,) = late.init_error_posted("post", failure)
    assert isinstance(reply, Respond) and reply.status == 403


def test_an_extension_failure_ends_the_answered_invocation_and_the_environment() -> None:
    m, clock, _ = machine()
    ready(m)
    m.submitted("r1")
    m.extensions_changed(all_polled=True, quiet=False)
    m.result_posted("r1", OK)
    clock.now = 42
    assert m.extension_failed("Extension.Crash", "boom") == [
        Ended("r1", "failed", 42, "Extension.Crash"),
        StartShutdown("failure"),
    ]


def test_the_runtime_exiting_ends_what_it_held() -> None:
    m, clock, _ = machine()
    ready(m)
    m.submitted("r1")
    clock.now = 7
    assert m.runtime_exited() == [Ended("r1", "exited", 7)]
    assert m.states == [Slot.ENDED]
    assert m.runtime_exited() == []  # reported twice (callback and wait): no harm


def test_after_a_5xx_on_a_post_polls_are_parked_until_the_runtime_exits() -> None:
    m, clock, _ = machine()
    ready(m)
    m.submitted("r1")
    m.answered_broken()  # the driver answered the post 500: Lambda's side is broken
    assert m.next_polled("pipelined-poll", 20) == []  # no MissingResponse, no answer
    clock.now = 9
    assert m.runtime_exited() == [Ended("r1", "exited", 9)]


# SnapStart: the publishing environment's snapshot, and every environment's restore
RESTORE_NEXT_403 = protocol.invalid_state("Invoking", "RestoreNext")
AFTER_RESTORE = InvokeOutcome(b"{}", "Unhandled", "Runtime.AfterRestoreError", "error")


def snap_machine() -> tuple[Lifecycle, Clock]:
    clock = Clock()
    m = Lifecycle(1, 3000, clock, lambda: 1_700_000_000_000, snap_start=True)
    return m, clock


def test_the_first_restore_next_is_the_snapshot_and_parks() -> None:
    m, _ = snap_machine()
    assert m.restore_polled("snapshot-poll", 40) == [TakeSnapshot("snapshot-poll", 40)]
    assert m.states == [Slot.RESTORING]
    assert (m.snapshot_ns, m.restore_started_ns) == (40, 40)  # init ends, the restore begins


def test_the_restored_copys_restore_next_is_answered_at_once() -> None:
    m, _ = snap_machine()
    m.restore_polled("snapshot-poll", 40)
    assert m.restore_polled("copy-poll", 45) == [Respond("copy-poll", 200, b"")]
    assert m.states == [Slot.RESTORING]


def test_an_environment_made_from_the_snapshot_restores_without_init() -> None:
    m, _ = snap_machine()
    assert m.restore_begun(70) == []
    assert (m.states, m.snapshot_ns, m.restore_started_ns) == ([Slot.RESTORING], 0, 70)
    assert m.restore_polled("copy-poll", 71) == [Respond("copy-poll", 200, b"")]


def test_the_first_next_after_the_hooks_ends_the_restore() -> None:
    m, clock = snap_machine()
    m.restore_begun(70)
    m.restore_polled("copy-poll", 71)
    clock.now = 90
    actions = m.next_polled("next", 90)
    assert actions[:2] == [CloseRegistration(), InitDone(90, restore_started_ns=70)]
    assert m.states == [Slot.IDLE]  # Restore Duration: 70 -> 90
    assert m.submitted("r1")[-1] == Deliver("next", "r1", 1_700_000_003_000)


def test_a_restore_error_fails_the_environment() -> None:
    m, _ = snap_machine()
    m.restore_begun(70)
    assert m.restore_error_posted("post", AFTER_RESTORE) == [
        Respond("post", 202, protocol.ACCEPTED),
        InitFailed(AFTER_RESTORE),
    ]
    assert m.states == [Slot.FAILED]
    assert m.next_polled("late-next", 80) == []  # parked until the reset kills the runtime
    assert m.restore_deadline_passed(AFTER_RESTORE) == []  # already failed: nothing more


def test_the_restore_deadline_fails_the_environment_with_the_given_answer() -> None:
    m, _ = snap_machine()
    m.restore_polled("snapshot-poll", 40)
    timeout = InvokeOutcome(b"{}", None, "SnapStartTimeoutException", "timeout", 408)
    assert m.restore_deadline_passed(timeout) == [InitFailed(timeout)]
    assert m.states == [Slot.FAILED]
    (reply,) = m.restore_error_posted("too-late", AFTER_RESTORE)
    assert isinstance(reply, Respond) and reply.status == 403


def test_a_deadline_after_the_restore_ended_changes_nothing() -> None:
    m, _ = snap_machine()
    m.restore_begun(70)
    m.next_polled("next", 90)
    assert m.restore_deadline_passed(AFTER_RESTORE) == []
    assert m.states == [Slot.IDLE]


@pytest.mark.parametrize("when", ["no snapstart", "after the restore", "before the snapshot"])
def test_restore_requests_out_of_place_are_403(when: str) -> None:
    if when == "no snapstart":
        m, _, _ = machine()
    else:
        m, _ = snap_machine()
        if when == "after the restore":
            m.restore_begun(70)
            m.next_polled("next", 90)
    if when != "before the snapshot":
        assert m.restore_polled("poll", 95) == [Respond("poll", 403, RESTORE_NEXT_403)]
    (reply,) = m.restore_error_posted("post", AFTER_RESTORE)
    assert isinstance(reply, Respond) and reply.status == 403


def test_a_before_snapshot_error_is_an_init_error_and_no_snapshot_follows() -> None:
    m, _ = snap_machine()
    failure = InvokeOutcome(b"{}", "Unhandled", "Runtime.BeforeSnapshotError", "error")
    assert InitFailed(failure) in m.init_error_posted("post", failure)
    assert m.states == [Slot.FAILED]
    assert m.restore_polled("poll", 50) == [Respond("poll", 403, RESTORE_NEXT_403)]


def test_an_init_error_after_the_snapshot_is_403() -> None:
    m, _ = snap_machine()
    m.restore_polled("snapshot-poll", 40)
    (reply,) = m.init_error_posted("post", AFTER_RESTORE)
    assert isinstance(reply, Respond) and reply.status == 403


def test_a_restoring_or_failed_environment_shuts_down_and_ends() -> None:
    m, _ = snap_machine()
    m.restore_begun(70)
    m.shutdown_started()
    assert m.states == [Slot.SHUTTING_DOWN]
    failed, _ = snap_machine()
    failed.restore_begun(70)
    failed.restore_error_posted("post", AFTER_RESTORE)
    assert failed.runtime_exited() == [] and failed.states == [Slot.ENDED]


def test_every_move_the_table_lacks_is_refused() -> None:
    """The table is the whole story: no state changes outside it."""
    for state, event in itertools.product([*Slot, *Phase], Event):
        if (state, event) in TRANSITIONS:
            assert next_state(state, event) is TRANSITIONS[(state, event)]
        else:
            with pytest.raises(IllegalTransition):
                next_state(state, event)
    # and nothing can leave ENDED, a slot's or the environment's
    assert not [key for key in TRANSITIONS if key[0] in (Slot.ENDED, Phase.ENDED)]


def test_states_change_only_through_the_table() -> None:
    """A slot's state and the environment's phase are assigned in one place each, where
    the table is read: a new ``self.phase = ...`` elsewhere would be a move the table
    does not show."""
    tree = ast.parse(Path(lifecycle.__file__).read_text())
    assigned = sorted(
        f"{function.name}: {target.attr}"
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef)
        for node in ast.walk(function)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute) and target.attr in ("phase", "state")
    )
    assert assigned == ["__init__: phase", "_enter: phase", "_move: state"]


def test_the_environments_phase_follows_the_table() -> None:
    m, _, _ = machine(freezes=False)  # Managed Instances: never frozen
    assert m.phase is Phase.INIT
    ready(m)
    assert m.phase is Phase.READY
    m.answered_broken()
    assert m.phase is Phase.BROKEN
    m.runtime_exited()
    assert m.phase is Phase.ENDED
    m.shutdown_started()  # the reset after the runtime's exit: it stays ended
    assert m.phase is Phase.ENDED and m.states == [Slot.ENDED]
    failed, _, _ = machine()
    failed.init_error_posted("post", OK)
    assert failed.phase is Phase.FAILED
    failed.answered_broken()  # already handing out nothing: no move
    failed.shutdown_started()
    assert failed.phase is Phase.SHUTTING_DOWN
    frozen, _, _ = machine()
    ready(frozen)
    assert frozen.phase is Phase.FROZEN
    assert frozen.shutdown_started() == [Thaw()]  # the shutdown phase runs thawed
    assert frozen.phase is Phase.SHUTTING_DOWN


def _documented_moves() -> set[tuple[str, str, str]]:
    """docs/architecture.md's transition table, row by row, as (state, event, next state)
    values ("any live state", "any" and "any but ended" spelled out)."""
    text = (Path(lifecycle.__file__).parents[1] / "docs" / "architecture.md").read_text()
    table = text.split("| state | event | next state | what else happens |")[1].split("\n\n")[0]
    words = {
        "any live state": [s.value for s in Slot if s not in (Slot.SHUTTING_DOWN, Slot.ENDED)],
        "any": [s.value for s in Slot if s is not Slot.ENDED],
        "any but ended": [p.value for p in Phase if p is not Phase.ENDED],
    }
    moves = set()
    for row in table.strip().splitlines()[1:]:
        state, event, after = (
            re.sub(r"\s*\([^)]*\)", "", cell).strip() for cell in row.split(" | ")[:3]
        )
        kind = "phase " if state.startswith("| *environment* ") else "slot "
        state = state.removeprefix("| *environment* ").removeprefix("| ")
        for one in words.get(state, state.split(", ")):
            for happened in event.split(", "):
                moves.add((kind + one, happened, kind + after))
    return moves


def test_the_documented_table_is_the_code_s() -> None:
    """A newcomer reads the local Lambda's behaviour off the doc's table: it lists every
    move of :data:`TRANSITIONS` and no other."""
    kind = {Slot: "slot ", Phase: "phase "}
    code = {
        (kind[type(state)] + state.value, event.value, kind[type(state)] + after.value)
        for (state, event), after in TRANSITIONS.items()
    }
    documented = _documented_moves()
    assert sorted(code - documented) == [] and sorted(documented - code) == []
