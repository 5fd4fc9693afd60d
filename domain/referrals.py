"""A referral: one step of one case sent to one institution, and what it may be told.

The referral's life is decided in `domain.decide` and folded in `domain.state`; this
module holds its status and the minimal data it carries (`payload`), the one place that
decides what leaves Amparo about a person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.institutions import Institution, SharedField
from domain.person import Person, VictimContext
from domain.personal import PersonalText
from domain.vocabulary import Channel, CrimeType, ReferralDecision, ReferralState, Step


class ReferralStatus(BaseModel):
    """Where one referral stands."""

    model_config = ConfigDict(frozen=True)

    referral_id: UUID
    step: Step
    institution: str
    state: ReferralState = ReferralState.SENT
    referred_at: datetime
    updated_at: datetime
    channel: Channel | None = None  # known once delivered
    delivered_at: datetime | None = None
    answered_at: datetime | None = None
    decision: ReferralDecision | None = None
    reference: str | None = None
    reason: PersonalText | None = None  # why declined, revoked or redirected
    redirected_to: UUID | None = None
    consent_override: PersonalText | None = None

    @property
    def final(self) -> bool:
        return self.state.final

    @property
    def awaits_delivery(self) -> bool:
        """Still to be delivered: not final and no channel has taken it yet."""
        return not self.final and self.delivered_at is None


def payload(
    referral: ReferralStatus,
    institution: Institution,
    *,
    crime_type: CrimeType | None,
    person: Person | None,
    victim: VictimContext,
    due_at: datetime | None,
) -> dict[str, Any]:
    """What the institution receives: the referral, and of the person only `shares`.

    JSON-ready. Ids are opaque: the referral id is the institution's handle for the answer;
    the case id stays inside Amparo.
    """
    shares = institution.shares
    about: dict[str, Any] = {}
    if person is not None:
        fields = {
            SharedField.GIVEN_NAME: person.given_name,
            SharedField.FAMILY_NAME: person.family_name,
            SharedField.SEX: person.sex.value,
            SharedField.NATIONALITY: person.nationality,
            SharedField.LANGUAGES: list(person.languages),
            SharedField.BIRTH_DATE: person.birth_date.isoformat() if person.birth_date else None,
        }
        about = {name.value: value for name, value in fields.items() if name in shares}
    body: dict[str, Any] = {
        "referral_id": str(referral.referral_id),
        "institution": institution.id,
        "step": referral.step.value,
        "referred_at": referral.referred_at.isoformat(),
        "due_at": due_at.isoformat() if due_at else None,
        "person": about,
    }
    if SharedField.CRIME_TYPE in shares and crime_type is not None:
        body["crime_type"] = crime_type.value
    if SharedField.EXPLOITATION_TYPES in shares:
        body["exploitation_types"] = [e.value for e in victim.exploitation_types]
    return body
