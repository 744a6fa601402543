"""The local Lambda's state machine, without I/O: events in, actions out (h11's shape).

An execution environment has one *slot* per invocation it can hold at once (1 on Lambda,
``AWS_LAMBDA_MAX_CONCURRENCY`` on Managed Instances). Each slot moves through the states
of :data:`TRANSITIONS`, the one table that says what the local Lambda does; a move the
table does not list is a bug and raises :class:`IllegalTransition`. The environment
around the slots has a :class:`Phase` whose moves are rows of the same table: ``init``
until the runtime and every extension have asked for their first event, then ``ready``
(``frozen`` while it has nothing to do, on Lambda; or ``failed``, or ``broken``), then
``shutting_down`` and ``ended``.

:class:`Lifecycle` knows request ids, never requests: the Runtime API's HTTP server hands
it events (a ``/next`` poll, a posted result, an invocation submitted, a deadline passed,
the runtime's exit, a change among the extensions) with an opaque token standing for the
HTTP request, and carries out the :class:`Action` objects it returns (answer a request,
settle an invocation, freeze or thaw the environment, start the shutdown phase). Time
comes from the two clocks it is given, so tests drive it with plain integers.

SnapStart is in the same table. The environment that publishes a version runs init until
its runtime asks ``GET /runtime/restore/next``: that poll is the snapshot (it parks, and
:class:`TakeSnapshot` tells the driver to take it). Every environment that starts from the
snapshot (the publishing one too) is ``restoring`` until its runtime asks ``/next``: its
``restore/next`` is answered at once, its after-restore hooks run, and ``/next`` ends the
restore (:class:`InitDone` then carries when it began, for Restore Duration). A posted
``restore/error`` or the restore's deadline fails the environment (:class:`InitFailed`).

Why an invocation's end is not its response: Lambda bills an invocation until the
runtime asks for the next one (and, with extensions, until every extension has too).
The state between the posted result and that request is ``answered`` (then
``wrapping_up`` while extensions finish); the invocation ends, and Duration stops, when
the slot is ``idle`` again.
"""

from __future__ import annotations

import enum
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar, cast

from . import protocol
from .model import InvokeOutcome

_FORGET_AFTER = 1000  # how many finished request ids are remembered (for 403/410 answers)


class Slot(enum.Enum):
    """Where one slot of the environment is."""

    INIT = "init"  # the runtime has not asked for an event on this slot yet
    IDLE = "idle"  # the runtime waits on /next (or will) and has nothing to do
    INVOKING = "invoking"  # an invocation is with the runtime, no result yet
    STREAMING = "streaming"  # its response is being streamed: only the stream's end posts it
    ANSWERED = "answered"  # result posted; the runtime has not asked for the next (billed)
    WRAPPING_UP = "wrapping_up"  # the runtime asked; extensions still at work (billed)
    RESTORING = "restoring"  # SnapStart: a copy of the snapshot runs its after-restore hooks
    FAILED = "failed"  # init or the restore failed: the environment waits to be reset
    SHUTTING_DOWN = "shutting_down"  # the shutdown phase has begun
    ENDED = "ended"  # the runtime has exited


class Phase(enum.Enum):
    """Where the environment around its slots is."""

    INIT = "init"  # the runtime or an extension has not asked for its first event yet
    READY = "ready"  # init is over: invocations are delivered
    FROZEN = "frozen"  # ready, nothing to do: its processes are stopped (Lambda; not LMI)
    FAILED = "failed"  # init or the restore failed: polls park until the reset
    BROKEN = "broken"  # Lambda's side answered a post 5xx: polls park until the runtime exits
    SHUTTING_DOWN = "shutting_down"  # nothing more is delivered; polls are 403
    ENDED = "ended"  # the runtime has exited


class Event(enum.Enum):
    """What can happen to a slot, or to the environment (its :class:`Phase`)."""

    POLLED = "next polled"
    DELIVERED = "invocation delivered"
    POSTED = "result posted"
    STREAM_STARTED = "stream started"
    QUIET = "extensions all waiting"
    DEADLINE = "deadline passed"
    INIT_ERROR = "init error posted"
    SNAPSHOT = "snapshot taken"  # the publishing runtime asked restore/next: init is over
    RESTORE = "restore begun"  # a new environment's copy of the snapshot is let go
    RESTORE_POLLED = "restore next polled"
    RESTORE_ERROR = "restore error posted"
    SHUTDOWN = "shutdown begun"
    EXITED = "runtime exited"
    # the environment's own (see Phase)
    INIT_ENDED = "init ended"  # the runtime and every extension have asked for an event
    EXTENSION_FAILED = "extension failed"
    ANSWERED_BROKEN = "post answered 5xx"
    NOTHING_TO_DO = "nothing to do"  # every slot idle, nothing queued


_LIVE = (
    Slot.INIT,
    Slot.IDLE,
    Slot.INVOKING,
    Slot.STREAMING,
    Slot.ANSWERED,
    Slot.WRAPPING_UP,
    Slot.RESTORING,
    Slot.FAILED,
)

_PHASES_LIVE = (Phase.INIT, Phase.READY, Phase.FROZEN, Phase.FAILED, Phase.BROKEN)
_SERVING = (Phase.READY, Phase.FROZEN)

#: A slot whose invocation has no answer yet (the runtime is at work on it).
_HELD = (Slot.INVOKING, Slot.STREAMING)

#: (state, event) -> next state, for a slot and for the environment's phase. Every state
#: change of the local Lambda is here.
TRANSITIONS: dict[tuple[Slot | Phase, Event], Slot | Phase] = {
    (Slot.INIT, Event.POLLED): Slot.IDLE,
    (Slot.IDLE, Event.POLLED): Slot.IDLE,  # a new poll in place of one whose client left
    (Slot.IDLE, Event.DELIVERED): Slot.INVOKING,
    (Slot.INVOKING, Event.POSTED): Slot.ANSWERED,
    (Slot.INVOKING, Event.STREAM_STARTED): Slot.STREAMING,
    (Slot.STREAMING, Event.POSTED): Slot.ANSWERED,  # the stream ended (or the platform failed it)
    (Slot.ANSWERED, Event.POLLED): Slot.WRAPPING_UP,
    (Slot.WRAPPING_UP, Event.QUIET): Slot.IDLE,  # the invocation ends here: Duration stops
    (Slot.INVOKING, Event.DEADLINE): Slot.IDLE,
    (Slot.STREAMING, Event.DEADLINE): Slot.IDLE,
    (Slot.ANSWERED, Event.DEADLINE): Slot.IDLE,
    (Slot.WRAPPING_UP, Event.DEADLINE): Slot.IDLE,
    (Slot.INIT, Event.INIT_ERROR): Slot.FAILED,
    # SnapStart
    (Slot.INIT, Event.SNAPSHOT): Slot.RESTORING,  # the poll parks: it is the snapshot's
    (Slot.INIT, Event.RESTORE): Slot.RESTORING,  # an environment made from the snapshot
    (Slot.RESTORING, Event.RESTORE_POLLED): Slot.RESTORING,  # the restored copy's: 200
    (Slot.RESTORING, Event.POLLED): Slot.IDLE,  # after-restore hooks done: the restore ends
    (Slot.RESTORING, Event.RESTORE_ERROR): Slot.FAILED,  # Runtime.AfterRestoreError
    (Slot.RESTORING, Event.DEADLINE): Slot.FAILED,  # SnapStartTimeoutException
    **{(state, Event.SHUTDOWN): Slot.SHUTTING_DOWN for state in _LIVE},
    **{(state, Event.EXITED): Slot.ENDED for state in (*_LIVE, Slot.SHUTTING_DOWN)},
    # the environment
    (Phase.INIT, Event.INIT_ENDED): Phase.READY,
    (Phase.INIT, Event.INIT_ERROR): Phase.FAILED,
    (Phase.INIT, Event.RESTORE_ERROR): Phase.FAILED,
    (Phase.INIT, Event.DEADLINE): Phase.FAILED,  # the restore's
    (Phase.INIT, Event.EXTENSION_FAILED): Phase.FAILED,
    (Phase.INIT, Event.ANSWERED_BROKEN): Phase.BROKEN,
    (Phase.READY, Event.ANSWERED_BROKEN): Phase.BROKEN,
    (Phase.READY, Event.NOTHING_TO_DO): Phase.FROZEN,  # Freeze
    (Phase.FROZEN, Event.DELIVERED): Phase.READY,  # Thaw, then the invocation
    (Phase.BROKEN, Event.ANSWERED_BROKEN): Phase.BROKEN,
    **{(phase, Event.SHUTDOWN): Phase.SHUTTING_DOWN for phase in _PHASES_LIVE},
    **{(phase, Event.EXITED): Phase.ENDED for phase in (*_PHASES_LIVE, Phase.SHUTTING_DOWN)},
}


S = TypeVar("S", Slot, Phase)


class IllegalTransition(RuntimeError):
    """A move :data:`TRANSITIONS` does not allow: a bug in the local Lambda."""


def next_state(state: S, event: Event) -> S:
    """Where ``event`` takes a slot or a phase in ``state``, by the table (or
    :class:`IllegalTransition`)."""
    nxt = TRANSITIONS.get((state, event))
    if nxt is None:
        raise IllegalTransition(f"{event.value!r} in state {state.value!r}")
    return cast(S, nxt)


# Actions: what the driver must do. ``request`` is the token the driver passed in.
@dataclass(frozen=True)
class Respond:
    """Answer ``request`` with ``status`` and ``body`` (a rejection, or 202 Accepted)."""

    request: Hashable
    status: int
    body: bytes


@dataclass(frozen=True)
class Deliver:
    """Answer the ``/next`` ``request`` with invocation ``request_id``, due at ``deadline_ms``."""

    request: Hashable
    request_id: str
    deadline_ms: int


@dataclass(frozen=True)
class Settle:
    """The invoker's answer for ``request_id`` is known (the platform made ``outcome``, or
    the runtime posted it)."""

    request_id: str
    outcome: InvokeOutcome


@dataclass(frozen=True)
class Ended:
    """Invocation ``request_id`` is over for the platform at ``at_ns``; ``how`` is 'done',
    'timeout', 'exited' or 'failed' (an extension failed: ``error_type``)."""

    request_id: str
    how: str
    at_ns: int
    error_type: str | None = None


@dataclass(frozen=True)
class InitDone:
    """Init has ended at ``at_ns`` (SnapStart: the restore, begun at ``restore_started_ns``)."""

    at_ns: int
    restore_started_ns: int = 0


@dataclass(frozen=True)
class TakeSnapshot:
    """SnapStart: init ended at ``at_ns`` with the runtime waiting on ``restore/next``
    (``request``, left unanswered): snapshot it. A driver that cannot calls
    :meth:`Lifecycle.restore_polled` with the same request, which restores in place."""

    request: Hashable
    at_ns: int


@dataclass(frozen=True)
class InitFailed:
    outcome: InvokeOutcome


@dataclass(frozen=True)
class CloseRegistration:
    """The runtime asked for its first event: extensions may no longer register."""


@dataclass(frozen=True)
class Freeze:
    """Nothing to do: the environment's processes stop until :class:`Thaw` (as on Lambda)."""


@dataclass(frozen=True)
class Thaw:
    pass


@dataclass(frozen=True)
class StartShutdown:
    """The environment must go (``reason``: 'timeout' or 'failure')."""

    reason: str


Action = (
    Respond
    | Deliver
    | Settle
    | Ended
    | InitDone
    | InitFailed
    | TakeSnapshot
    | CloseRegistration
    | Freeze
    | Thaw
    | StartShutdown
)


@dataclass
class _SlotState:
    state: Slot = Slot.INIT
    poll: Hashable | None = None  # the runtime's /next, waiting
    request_id: str | None = None  # the invocation it holds


class Lifecycle:
    """One environment's states. Methods are events; each returns the actions to carry out.

    ``connected(token)`` says whether a parked request's client is still there (a query,
    not I/O). ``resets_on_timeout``: a timeout ends the environment (Lambda) or only its
    invocation (Managed Instances). ``freezes``: the environment is frozen while it has
    nothing to do (Lambda) or keeps running (Managed Instances).
    """

    def __init__(
        self,
        slots: int,
        timeout_ms: int,
        clock_ns: Callable[[], int],
        wall_ms: Callable[[], int],
        connected: Callable[[Hashable], bool] = lambda token: True,
        resets_on_timeout: bool = True,
        freezes: bool = True,
        finished: OrderedDict[str, str] | None = None,
        snap_start: bool = False,
    ) -> None:
        self.slots = [_SlotState() for _ in range(slots)]
        self.timeout_ms = timeout_ms
        self._clock_ns = clock_ns
        self._wall_ms = wall_ms
        self._connected = connected
        self.resets_on_timeout = resets_on_timeout
        self.freezes = freezes
        self.snap_start = snap_start
        self.snapshot_ns = 0  # SnapStart: when init ended at the snapshot (this environment's)
        self.restore_started_ns = 0
        self.phase = Phase.INIT
        self.runtime_ready_ns = 0
        self.extensions_polled = True  # every registered extension has called next once
        self.extensions_quiet = True  # every extension waits on next again
        self.extension_failure: str | None = None
        self.queue: deque[str] = deque()
        # Request id -> 'done' | 'timeout', for late posts' 403/410; a function's environments
        # may share one (a post after a reset still gets 410).
        self.finished: OrderedDict[str, str] = finished if finished is not None else OrderedDict()

    # queries
    def state_of(self, request_id: str) -> Slot | None:
        slot = self._holding(request_id)
        return slot.state if slot is not None else None

    @property
    def states(self) -> list[Slot]:
        return [slot.state for slot in self.slots]

    # events from the runtime
    def next_polled(self, request: Hashable, at_ns: int) -> list[Action]:
        actions: list[Action] = []
        if self.phase in (Phase.BROKEN, Phase.FAILED):
            return []  # parked, never answered: Lambda waits for the runtime to exit
        if self.phase in (Phase.SHUTTING_DOWN, Phase.ENDED):
            return [Respond(request, 403, protocol.invalid_state("Shutdown", "InvocationNext"))]
        if not self.runtime_ready_ns:
            self.runtime_ready_ns = at_ns
            actions.append(CloseRegistration())
        slot = self._slot_for_poll(actions)
        if slot is None:
            return [
                Respond(request, 403, protocol.invalid_state("InvocationNext", "InvocationNext"))
            ]
        answered = slot.state is Slot.ANSWERED
        self._move(slot, Event.POLLED)
        if answered:  # its runtime is done with it: the invocation ends, or wraps up
            self._wrap_up(slot, actions, at_ns)
        slot.poll = request
        self._check_init(actions)
        self._dispatch(actions)
        return actions

    def _slot_for_poll(self, actions: list[Action]) -> _SlotState | None:
        """The slot a poll is for: the oldest answered one (its runtime is done), else one
        with no live poll, else the oldest invoking one (its runtime asked for more without
        answering: Runtime.MissingResponse)."""
        for slot in self.slots:
            if slot.state is Slot.ANSWERED:
                return slot
        for slot in self.slots:
            if slot.state in (Slot.INIT, Slot.IDLE, Slot.RESTORING) and not self._live(slot.poll):
                return slot
        for slot in self.slots:
            if slot.state in _HELD and slot.request_id is not None:
                actions.append(Settle(slot.request_id, _missing_response(slot.request_id)))
                self._move(slot, Event.POSTED)
                self._remember(slot.request_id, "done")
                return slot
        return None

    def check_post(self, request: Hashable, request_id: str) -> list[Action]:
        """Before a result's body is read: a rejection, or nothing if ``request_id`` may post."""
        slot = self._holding(request_id)
        if slot is None or slot.state is not Slot.INVOKING:
            how = self.finished.get(request_id)
            if how == "timeout":
                return [Respond(request, 410, protocol.INVOKE_TIMEOUT)]
            if how == "done" or slot is not None:
                body = protocol.invalid_state("InvocationResponse", "InvocationResponse")
                return [Respond(request, 403, body)]
            return [Respond(request, 400, protocol.INVALID_REQUEST_ID)]
        return []

    def stream_started(self, request_id: str) -> None:
        """A streamed response began: only its end settles the invocation."""
        slot = self._holding(request_id)
        if slot is not None and slot.state is Slot.INVOKING:
            self._move(slot, Event.STREAM_STARTED)

    def stream_ended(self, request: Hashable, request_id: str) -> list[Action]:
        """A streamed response's body has ended: 410 if the invocation timed out while it
        streamed, else nothing (the driver then posts its result)."""
        if self.finished.get(request_id) == "timeout":
            return [Respond(request, 410, protocol.INVOKE_TIMEOUT)]
        return []

    def result_posted(self, request_id: str, outcome: InvokeOutcome) -> list[Action]:
        """The runtime's result (or an error the platform made of its unusable post)."""
        slot = self._holding(request_id)
        if slot is None or slot.state not in _HELD:  # the answer is known already
            return []
        self._move(slot, Event.POSTED)
        self._remember(request_id, "done")  # a second post gets 403, also after the next /next
        actions: list[Action] = [Settle(request_id, outcome)]
        if self.extension_failure is not None:  # an extension failed while it ran
            actions.append(Ended(request_id, "failed", self._clock_ns(), self.extension_failure))
            actions.append(StartShutdown("failure"))
        return actions

    def answered_broken(self) -> None:
        """Lambda's side answered a post with a 5xx (an injected fault): it has told the
        runtime it is broken, so it hands out no more invocations. A runtime that pipelined
        its ``GET /next`` behind the post is then judged by its exit, not by that poll.
        (Failed, shutting down or ended, it hands out none already.)"""
        if self.phase in (Phase.INIT, Phase.READY, Phase.BROKEN):
            self._enter(Event.ANSWERED_BROKEN)

    def init_error_posted(self, request: Hashable, outcome: InvokeOutcome) -> list[Action]:
        if self.runtime_ready_ns or self.phase is not Phase.INIT or self.restore_started_ns:
            return [Respond(request, 403, protocol.invalid_state("InitError", "InitError"))]
        return self._fail_init(Event.INIT_ERROR, outcome, request)

    # SnapStart
    def restore_polled(self, request: Hashable, at_ns: int) -> list[Action]:
        """``GET /runtime/restore/next``: the snapshot (the first one, in the environment
        that runs init), else the restored copy's poll, answered at once."""
        slot = self.slots[0]  # SnapStart environments have one slot (as on Lambda)
        if self.snap_start and self.phase is Phase.INIT:
            if slot.state is Slot.INIT and not self.snapshot_ns:
                self._move(slot, Event.SNAPSHOT)
                self.snapshot_ns = self.restore_started_ns = at_ns
                return [TakeSnapshot(request, at_ns)]
            if slot.state is Slot.RESTORING:
                self._move(slot, Event.RESTORE_POLLED)
                if self.restore_started_ns == self.snapshot_ns:
                    # The environment that took the snapshot: its copy asks now, made once
                    # the snapshot's holder was out of it. Until then the snapshot was being
                    # taken, no part of restoring it (a later environment's restore, too,
                    # begins once its copy is made).
                    self.restore_started_ns = at_ns
                return [Respond(request, 200, b"")]
        return [Respond(request, 403, protocol.invalid_state("Invoking", "RestoreNext"))]

    def restore_begun(self, at_ns: int) -> list[Action]:
        """An environment made from the snapshot lets its copy go: it restores, no init."""
        self._move(self.slots[0], Event.RESTORE)
        self.restore_started_ns = at_ns
        return []

    def restore_error_posted(self, request: Hashable, outcome: InvokeOutcome) -> list[Action]:
        """``POST /runtime/restore/error`` (an after-restore hook failed): the cold start fails."""
        if self.phase is not Phase.INIT or self.slots[0].state is not Slot.RESTORING:
            return [Respond(request, 403, protocol.invalid_state("Invoking", "RestoreError"))]
        return self._fail_init(Event.RESTORE_ERROR, outcome, request)

    def restore_deadline_passed(self, outcome: InvokeOutcome) -> list[Action]:
        """The restore's time limit passed before the runtime asked ``/next``."""
        if self.phase is not Phase.INIT or self.slots[0].state is not Slot.RESTORING:
            return []
        return self._fail_init(Event.DEADLINE, outcome)

    def _fail_init(
        self, event: Event, outcome: InvokeOutcome, request: Hashable | None = None
    ) -> list[Action]:
        self._enter(event)
        for slot in self.slots:
            if slot.state in (Slot.INIT, Slot.RESTORING):
                self._move(slot, event)
        accepted = [] if request is None else [Respond(request, 202, protocol.ACCEPTED)]
        return [*accepted, InitFailed(outcome)]

    # events from the extensions API
    def extensions_changed(self, all_polled: bool, quiet: bool) -> list[Action]:
        self.extensions_polled, self.extensions_quiet = all_polled, quiet
        actions: list[Action] = []
        self._check_init(actions)
        if quiet:
            for slot in self.slots:
                if slot.state is Slot.WRAPPING_UP:
                    self._wrap_up(slot, actions, self._clock_ns())
        self._dispatch(actions)
        return actions

    def extension_failed(self, error_type: str, message: str) -> list[Action]:
        """Init fails, or the environment resets once its invocations end (spec §5)."""
        if self.phase is Phase.INIT:
            self._enter(Event.EXTENSION_FAILED)
            body = protocol.error_body(error_type, message)
            return [InitFailed(InvokeOutcome(body, "Unhandled", error_type, "failure"))]
        if self.phase not in _SERVING:
            return []
        self.extension_failure = self.extension_failure or error_type  # the first one counts
        actions: list[Action] = []
        now = self._clock_ns()
        for slot in self.slots:  # invocations still running end when they post
            if slot.state in (Slot.ANSWERED, Slot.WRAPPING_UP) and slot.request_id:
                actions.append(Ended(slot.request_id, "failed", now, self.extension_failure))
        if not any(slot.state in _HELD for slot in self.slots):
            actions.append(StartShutdown("failure"))
        return actions

    # events from the emulator
    def submitted(self, request_id: str) -> list[Action]:
        """An invocation is to run here (now, or at the runtime's next poll)."""
        self.queue.append(request_id)
        actions: list[Action] = []
        self._dispatch(actions)
        return actions

    def deadline_passed(self, request_id: str) -> list[Action]:
        if request_id in self.queue:
            self.queue.remove(request_id)
            self._remember(request_id, "timeout")
            return [Ended(request_id, "timeout", self._clock_ns())]
        slot = self._holding(request_id)
        if slot is None or slot.state not in (*_HELD, Slot.ANSWERED, Slot.WRAPPING_UP):
            return []
        actions: list[Action] = [Ended(request_id, "timeout", self._clock_ns())]
        # answered (its answer settled) before the deadline: a late post gets 403, else 410
        self._remember(request_id, "timeout" if slot.state in _HELD else "done")
        self._move(slot, Event.DEADLINE)
        self._free(slot)
        if self.resets_on_timeout:
            actions.append(StartShutdown("timeout"))
        else:
            self._dispatch(actions)
        return actions

    def runtime_exited(self) -> list[Action]:
        now = self._clock_ns()
        actions: list[Action] = []
        for slot in self.slots:
            if slot.request_id is not None and slot.state in (
                *_HELD,
                Slot.ANSWERED,
                Slot.WRAPPING_UP,
            ):
                actions.append(Ended(slot.request_id, "exited", now))
                self._remember(slot.request_id, "done")
            if slot.state is not Slot.ENDED:
                self._move(slot, Event.EXITED)
            self._free(slot)
        if self.phase is not Phase.ENDED:
            self._enter(Event.EXITED)
        return actions

    def shutdown_started(self) -> list[Action]:
        """The shutdown phase: nothing more is delivered; a frozen environment thaws."""
        actions: list[Action] = []
        if self.phase is Phase.FROZEN:
            actions.append(Thaw())
        if self.phase in _PHASES_LIVE:  # a runtime that has exited stays ended
            self._enter(Event.SHUTDOWN)
        for slot in self.slots:
            if slot.state in _LIVE:
                self._move(slot, Event.SHUTDOWN)
        return actions

    # inside
    def _move(self, slot: _SlotState, event: Event) -> None:
        slot.state = next_state(slot.state, event)

    def _enter(self, event: Event) -> None:
        self.phase = next_state(self.phase, event)

    def _wrap_up(self, slot: _SlotState, actions: list[Action], at_ns: int) -> None:
        """The runtime has asked for more: the invocation ends once extensions are quiet."""
        if not self.extensions_quiet:
            return
        self._move(slot, Event.QUIET)
        if slot.request_id is not None:
            self._remember(slot.request_id, "done")
            actions.append(Ended(slot.request_id, "done", at_ns))
        slot.request_id = None

    def _free(self, slot: _SlotState) -> None:
        slot.request_id = None

    def _check_init(self, actions: list[Action]) -> None:
        if self.phase is Phase.INIT and self.runtime_ready_ns and self.extensions_polled:
            self._enter(Event.INIT_ENDED)
            actions.append(InitDone(self._clock_ns(), self.restore_started_ns))

    def _dispatch(self, actions: list[Action]) -> None:
        """Pair queued invocations with waiting polls; freeze when nothing is left to do."""
        if self.phase not in _SERVING:
            return
        for slot in self.slots:
            if not self.queue:
                break
            if slot.state is Slot.IDLE and self._live(slot.poll):
                if self.phase is Phase.FROZEN:
                    self._enter(Event.DELIVERED)
                    actions.append(Thaw())
                request_id = self.queue.popleft()
                deadline_ms = self._wall_ms() + self.timeout_ms
                actions.append(Deliver(slot.poll, request_id, deadline_ms))
                self._move(slot, Event.DELIVERED)
                slot.poll, slot.request_id = None, request_id
        busy = any(slot.state is not Slot.IDLE for slot in self.slots)
        if self.freezes and self.phase is Phase.READY and not self.queue and not busy:
            self._enter(Event.NOTHING_TO_DO)
            actions.append(Freeze())

    def _live(self, token: Hashable | None) -> bool:
        return token is not None and self._connected(token)

    def _holding(self, request_id: str) -> _SlotState | None:
        for slot in self.slots:
            if slot.request_id == request_id:
                return slot
        return None

    def _remember(self, request_id: str, how: str) -> None:
        self.finished[request_id] = how
        while len(self.finished) > _FORGET_AFTER:
            self.finished.popitem(last=False)


def _missing_response(request_id: str) -> InvokeOutcome:
    body = protocol.platform_error(
        request_id,
        "Runtime.MissingResponse",
        "the runtime asked for the next invocation without posting a response or an error",
    )
    return InvokeOutcome(body, "Unhandled", "Runtime.MissingResponse", "error")
