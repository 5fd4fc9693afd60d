"""SLA policy: how long each step may stay open, and when stuck work is noticed.

A case records the policy in force when it opens (in `CaseOpened`), so changing the
defaults never rewrites the deadlines of cases already open, and a rebuild gives the
same answer as the day it was recorded.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from domain.vocabulary import Step

DEFAULT_SLA_DAYS: dict[Step, int] = {
    Step.IDENTIFICATION: 3,
    Step.SHELTER: 1,
    Step.HEALTH: 3,
    Step.LEGAL: 14,
    Step.DOCUMENTATION: 30,
    Step.RETURN_REINTEGRATION: 90,
}


class SlaPolicy(BaseModel):
    """Days per step, the stale period, and the grace given to work recorded after the fact."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # At least a day: with none a step is overdue as it opens; below none, before it opens.
    days: dict[Step, Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: dict(DEFAULT_SLA_DAYS)
    )
    stale_days: int = Field(default=30, ge=1)
    # While a caseworker is still entering past work (backdated commands), deadlines that
    # already passed wait this long before they fire, so finished work is not flagged late.
    backdating_grace_seconds: int = Field(default=60, ge=0)

    def limit(self, step: Step) -> timedelta:
        """How long `step` may stay open before it is overdue."""
        return timedelta(days=self.days.get(step, DEFAULT_SLA_DAYS[step]))

    @classmethod
    def with_overrides(cls, days: dict[str, int], stale_days: int = 30) -> SlaPolicy:
        """The defaults with configured days per step (unknown step names are refused)."""
        merged = dict(DEFAULT_SLA_DAYS)
        for name, value in days.items():
            if value < 1:
                raise ValueError(f"SLA for {name} must be at least 1 day")
            merged[Step(name)] = value
        return cls(days=merged, stale_days=stale_days)
