"""The case states an inline projector wrote lately, kept once their transaction committed.

`CaseProjector` folds a case's next events on from here instead of reading and parsing
the stored state (a JSON document of a few kilobytes) on every append.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from threading import Lock, local
from uuid import UUID

from domain import CaseState


class RecentStates:
    """The last committed state of up to `size` cases, the least recently written dropped.

    A state enters only once its transaction committed (`committing`): a rolled-back
    append would otherwise leave a state the table never had, at a version that a
    different history may reach later. Shared by threads; each has its own transaction.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._states: OrderedDict[UUID, CaseState] = OrderedDict()
        self._lock = Lock()
        self._pending = local()  # this thread's transaction's states, until it commits

    def get(self, case_id: UUID) -> CaseState | None:
        with self._lock:
            state = self._states.get(case_id)
            if state is not None:
                self._states.move_to_end(case_id)
            return state

    def written(self, states: list[CaseState]) -> None:
        """What this thread's transaction wrote; kept if it commits inside `committing`."""
        self._pending.states = states

    @contextmanager
    def committing(self) -> Iterator[None]:
        """Around one transaction: keep what it wrote once it has committed, else nothing."""
        self._pending.states = []
        try:
            yield
        finally:
            states, self._pending.states = self._pending.states, []
        self._keep(states)  # not reached when the transaction failed: `finally` dropped them

    def _keep(self, states: list[CaseState]) -> None:
        if not self._size:
            return
        with self._lock:
            for state in states:
                assert state.case_id is not None
                self._states[state.case_id] = state
                self._states.move_to_end(state.case_id)
            while len(self._states) > self._size:
                self._states.popitem(last=False)
