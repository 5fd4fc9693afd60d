"""The institutions referrals go to, and what each may learn about the person.

The registry is configuration (a TOML file loaded by `amparo.institutions`); these are its
validated shapes and the rules that use it: which institution serves which step, and the
minimal data a referral carries to it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    field_validator,
    model_validator,
)

from domain import errors
from domain.vocabulary import Channel, Step

INSTITUTION_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SharedField(StrEnum):
    """What a referral may tell an institution about the person and the case."""

    GIVEN_NAME = "given_name"
    FAMILY_NAME = "family_name"
    SEX = "sex"
    NATIONALITY = "nationality"
    LANGUAGES = "languages"
    BIRTH_DATE = "birth_date"
    CRIME_TYPE = "crime_type"
    EXPLOITATION_TYPES = "exploitation_types"


# By default: enough to receive the person, nothing more (no birth date, no contact, no notes).
DEFAULT_SHARED = frozenset(
    {
        SharedField.GIVEN_NAME,
        SharedField.FAMILY_NAME,
        SharedField.SEX,
        SharedField.NATIONALITY,
        SharedField.LANGUAGES,
    }
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebhookChannel(_Frozen):
    """Signed JSON over HTTP: HMAC-SHA256 of `timestamp.body` with the shared secret."""

    kind: Literal[Channel.WEBHOOK] = Channel.WEBHOOK
    url: HttpUrl
    secret: SecretStr = Field(min_length=16)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class EmailChannel(_Frozen):
    kind: Literal[Channel.EMAIL] = Channel.EMAIL
    address: str

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("must be an email address")
        return value


class InboxChannel(_Frozen):
    """The institution's users read and answer referrals inside Amparo."""

    kind: Literal[Channel.INBOX] = Channel.INBOX


ChannelConfig = Annotated[WebhookChannel | EmailChannel | InboxChannel, Field(discriminator="kind")]


class Institution(_Frozen):
    id: str = Field(pattern=INSTITUTION_ID)
    name: str = Field(min_length=1, max_length=200)
    steps: frozenset[Step] = Field(min_length=1)
    channel: ChannelConfig
    shares: frozenset[SharedField] = DEFAULT_SHARED

    def serves(self, step: Step) -> bool:
        return step in self.steps


class Registry(_Frozen):
    """Every institution a referral may go to, by id."""

    institutions: tuple[Institution, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> Registry:
        seen: set[str] = set()
        for institution in self.institutions:
            if institution.id in seen:
                raise ValueError(f"institution {institution.id!r} is listed twice")
            seen.add(institution.id)
        return self

    def get(self, institution_id: str) -> Institution | None:
        return next((i for i in self.institutions if i.id == institution_id), None)

    def target(self, institution_id: str, step: Step) -> Institution:
        """The institution a referral of `step` may go to, or the refusal that says why."""
        institution = self.get(institution_id)
        if institution is None:
            raise errors.InstitutionUnknown("no such institution in the registry")
        if not institution.serves(step):
            raise errors.InstitutionNotServingStep(f"{institution_id} does not serve {step}")
        return institution
