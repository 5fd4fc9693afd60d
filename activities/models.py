"""Inputs and results of activities: importable by workflows without pulling in any I/O code."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from domain.events import Event

APPEND_EVENTS = "append_events"


class AppendEventsInput(BaseModel):
    """A case's next events, in version order; re-sending the same ids is a no-op."""

    model_config = ConfigDict(frozen=True)

    events: list[Event]


class AppendEventsResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    appended: int
