"""Inputs and results of activities: importable by workflows without pulling in any I/O code."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.events import Event
from domain.vocabulary import Channel

APPEND_EVENTS = "append_events"


class AppendEventsInput(BaseModel):
    """A case's next events, in version order; re-sending the same ids is a no-op.

    `catch_up`: on a version conflict, answer with the stored events from the batch's
    first version on instead of failing, so the workflow can adopt them.
    """

    model_config = ConfigDict(frozen=True)

    events: list[Event]
    catch_up: bool = False


class AppendEventsResult(BaseModel):
    """How many events were new; or, after a conflict, what the store already holds."""

    model_config = ConfigDict(frozen=True)

    appended: int
    stored: list[Event] = []


NOTIFY = "notify"

# What a notification may carry: ids, codes and dates, never a person's data. Keys outside
# this list, and values that are not short codes, are refused when the input is built.
NOTIFY_PARAM_KEYS = frozenset(
    {
        "step",
        "due_at",
        "since",
        "days",
        "level",
        "visa_id",
        "visa_kind",
        "expires_on",
        "referral_id",
        "institution",
        "decision",
        "reason",
    }
)
NotifyParam = Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_.:+\-]*$")]


class NotifyInput(BaseModel):
    """Tell people about something on a case: in their inbox, and by email when configured.

    `notification_id` is the idempotency key: the caller derives it deterministically from
    what caused the notification (a workflow: from the event), so running the activity
    again delivers and emails nothing twice. Recipients are the users named in `to_users`
    plus the active supervisors of `to_supervisors_of`, as they are when it runs.
    """

    model_config = ConfigDict(frozen=True)

    notification_id: UUID
    case_id: UUID | None
    kind: str = Field(pattern=r"^[a-z][a-z_]{0,31}$")
    params: dict[str, NotifyParam] = Field(default_factory=dict)
    to_users: list[str] = Field(default_factory=list)
    to_supervisors_of: str | None = None

    @field_validator("params")
    @classmethod
    def _only_known_keys(cls, params: dict[str, str]) -> dict[str, str]:
        unknown = set(params) - NOTIFY_PARAM_KEYS
        if unknown:
            raise ValueError(f"params {sorted(unknown)} are not among {sorted(NOTIFY_PARAM_KEYS)}")
        return params


class NotifyResult(BaseModel):
    """Inbox rows written and emails sent by this run (a repeated run: zero and zero)."""

    model_config = ConfigDict(frozen=True)

    delivered: int
    emailed: int


DELIVER_REFERRAL = "deliver_referral"


class DeliverReferralInput(BaseModel):
    """Deliver one referral over its institution's channel; ids only (no personal data in
    the history): the activity reads the case as stored, and the referral's minimal data.
    Idempotent on `referral_id`: it is the webhook's idempotency key and the email's
    Message-ID, and a referral no longer live is not sent at all."""

    model_config = ConfigDict(frozen=True)

    referral_id: UUID
    case_id: UUID


class DeliverReferralResult(BaseModel):
    """The channel that took the referral; None: it was not sent (revoked, redirected,
    answered or unknown by the time this ran), so there is no delivery to record."""

    model_config = ConfigDict(frozen=True)

    channel: Channel | None
