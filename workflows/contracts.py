"""Inputs and results of the case workflow and its updates (one model each, fields default)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from activities.models import NotifyInput
from domain.state import CaseState
from domain.visas import VisaPolicy


def case_workflow_id(case_id: UUID) -> str:
    """Workflow ids carry the opaque case id only: never a name."""
    return f"case-{case_id}"


class CommandResult(BaseModel):
    """What an accepted command did; by the time it returns, its events are stored."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID
    version: int
    events: list[str] = Field(default_factory=list, description="types of the recorded events")


class CaseWorkflowInput(BaseModel):
    """Starts a case workflow, or carries a case over continue-as-new."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID
    # The case as the previous run left it: a run continues as new only once every
    # event is stored and every handler has answered, so nothing else needs carrying.
    state: CaseState | None = None
    # Answers to the latest commands, by command id, so a retry is answered, not re-applied.
    recent_commands: dict[str, CommandResult] = Field(default_factory=dict)
    # Notifications still being delivered when the previous run continued as new.
    pending_notices: list[NotifyInput] = Field(default_factory=list)
    # Continue-as-new after this many updates: far below Temporal's 2,000 per run.
    max_updates_per_run: int = 1000
    # A workflow started for a case that never opened (its opening was refused) ends.
    unopened_timeout_seconds: int = 3600
    # The first wait before a failed referral delivery is tried again (then doubling).
    delivery_backoff_seconds: float = Field(default=5.0, gt=0, le=3600)


class CaseResult(BaseModel):
    """How a case workflow ended."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID
    status: str
    version: int


def visa_workflow_id(visa_id: UUID) -> str:
    return f"visa-{visa_id}"


class VisaWorkflowInput(BaseModel):
    """Follows one visa's cycle (its expiry date); a renewal continues as new with the next."""

    model_config = ConfigDict(frozen=True)

    visa_id: UUID
    case_id: UUID
    expires_on: date
    policy: VisaPolicy = VisaPolicy()
    sent: tuple[int, ...] = ()  # alerts of this cycle already given (a late registration)


class VisaDue(BaseModel):
    """A visa timer's alert, signalled to the case: a reminder (`days` > 0) or the expiry."""

    model_config = ConfigDict(frozen=True)

    visa_id: UUID
    expires_on: date
    days: int
