"""Referrals to institutions: consent, answers, revocation, redirection, what is shared."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain import commands as cmd
from domain import errors
from domain.institutions import (
    DEFAULT_SHARED,
    InboxChannel,
    Institution,
    Registry,
    SharedField,
)
from domain.referrals import payload
from domain.vocabulary import (
    SYSTEM_ACTOR,
    Channel,
    ClosureReason,
    ConsentScope,
    ReferralDecision,
    ReferralState,
    Step,
    StepAction,
    StepState,
)
from tests.unit.domain_strategies import HOUR, PERSON, Case, identified

SHELTER = "hogar-oblatas"


def referred(
    case: Case | None = None, step: Step = Step.SHELTER, **kwargs: Any
) -> tuple[Case, UUID]:
    case = case or identified()
    events = case.later(HOUR).do(
        cmd.AdvanceStep, step=step, action=StepAction.REFER, institution=SHELTER, **kwargs
    )
    return case, events[-1].data.referral_id  # type: ignore[union-attr]


def answer(case: Case, referral_id: UUID, decision: ReferralDecision, **kwargs: Any) -> list[str]:
    kwargs.setdefault("institution", SHELTER)
    events = case.later(HOUR).do(
        cmd.AnswerReferral,
        referral_id=referral_id,
        decision=decision,
        actor="hermana.lucia",
        **kwargs,
    )
    return [e.type for e in events]


class TestSending:
    def test_a_referral_needs_data_sharing_consent(self) -> None:
        case = identified(consent=False)
        case.do(cmd.GiveConsent, scope=ConsentScope.ASSISTANCE)
        error = case.refused(
            cmd.AdvanceStep, step=Step.SHELTER, action=StepAction.REFER, institution=SHELTER
        )
        assert error.code == "consent_required"

    def test_an_override_with_a_reason_is_recorded_on_the_referral(self) -> None:
        case = identified(consent=False)
        blank = case.refused(
            cmd.AdvanceStep,
            step=Step.SHELTER,
            action=StepAction.REFER,
            institution=SHELTER,
            consent_override="  ",
        )
        assert blank.code == "consent_required"
        case, referral_id = referred(case, consent_override="risk to life", actor="sofia")
        assert case.state.referrals[referral_id].consent_override == "risk to life"
        assert case.state.steps[Step.SHELTER].state is StepState.REFERRED

    def test_an_override_is_not_recorded_when_consent_was_given(self) -> None:
        case, referral_id = referred(consent_override="not needed")
        assert case.state.referrals[referral_id].consent_override is None

    def test_delivery_is_recorded_once(self) -> None:
        case, referral_id = referred()
        case.do(
            cmd.RecordReferralDelivered,
            referral_id=referral_id,
            channel=Channel.WEBHOOK,
            actor=SYSTEM_ACTOR,
        )
        referral = case.state.referrals[referral_id]
        assert (referral.state, referral.channel) == (ReferralState.DELIVERED, Channel.WEBHOOK)
        again = case.refused(
            cmd.RecordReferralDelivered,
            referral_id=referral_id,
            channel=Channel.WEBHOOK,
            actor=SYSTEM_ACTOR,
        )
        assert again.code == "referral_already_delivered"


class TestAnswers:
    def test_accepted_starts_the_step(self) -> None:
        case, referral_id = referred()
        types = answer(case, referral_id, ReferralDecision.ACCEPTED, reference="EXP-7")
        assert types == ["ReferralAnswered", "StepStarted"]
        assert case.state.steps[Step.SHELTER].state is StepState.IN_PROGRESS
        referral = case.state.referrals[referral_id]
        assert (referral.state, referral.reference) == (ReferralState.ACCEPTED, "EXP-7")
        again = case.refused(
            cmd.AnswerReferral,
            referral_id=referral_id,
            institution=SHELTER,
            decision=ReferralDecision.ACCEPTED,
        )
        assert again.code == "referral_already_accepted"

    def test_completed_completes_the_step_and_what_follows_opens(self) -> None:
        case, referral_id = referred(step=Step.DOCUMENTATION)
        answer(case, referral_id, ReferralDecision.ACCEPTED)
        types = answer(case, referral_id, ReferralDecision.COMPLETED)
        assert types == ["ReferralAnswered", "StepCompleted", "StepOpened"]
        assert case.state.steps[Step.DOCUMENTATION].state is StepState.COMPLETED
        assert Step.RETURN_REINTEGRATION in case.state.steps
        final = case.refused(
            cmd.AnswerReferral,
            referral_id=referral_id,
            institution=SHELTER,
            decision=ReferralDecision.DECLINED,
            note="late",
        )
        assert final.code == "referral_final"

    def test_declined_puts_the_step_back_to_pending_with_the_reason(self) -> None:
        case, referral_id = referred()
        no_reason = case.refused(
            cmd.AnswerReferral,
            referral_id=referral_id,
            institution=SHELTER,
            decision=ReferralDecision.DECLINED,
        )
        assert no_reason.code == "reason_required"
        answer(case, referral_id, ReferralDecision.DECLINED, note="no beds")
        step = case.state.steps[Step.SHELTER]
        assert (step.state, step.referral_id, step.institution) == (StepState.PENDING, None, None)
        assert case.state.referrals[referral_id].reason == "no beds"

    def test_another_institution_cannot_answer(self) -> None:
        case, referral_id = referred()
        error = case.refused(
            cmd.AnswerReferral,
            referral_id=referral_id,
            institution="salud-publica",
            decision=ReferralDecision.ACCEPTED,
        )
        assert error.code == "referral_not_found"


class TestRevokeAndRedirect:
    def test_revoked_the_step_is_pending_and_answers_are_refused(self) -> None:
        case, referral_id = referred()
        case.do(cmd.RevokeReferral, referral_id=referral_id, reason="person moved")
        assert case.state.steps[Step.SHELTER].state is StepState.PENDING
        error = case.refused(
            cmd.AnswerReferral,
            referral_id=referral_id,
            institution=SHELTER,
            decision=ReferralDecision.ACCEPTED,
        )
        assert error.code == "referral_final"

    def test_redirected_a_new_referral_to_the_other_institution(self) -> None:
        case, referral_id = referred()
        (event,) = case.do(
            cmd.RedirectReferral,
            referral_id=referral_id,
            institution="casa-refugio",
            reason="webhook down for days",
        )
        new_id = event.data.new_referral_id  # type: ignore[union-attr]
        old, new = case.state.referrals[referral_id], case.state.referrals[new_id]
        assert (old.state, old.redirected_to) == (ReferralState.REDIRECTED, new_id)
        assert (new.state, new.institution) == (ReferralState.SENT, "casa-refugio")
        step = case.state.steps[Step.SHELTER]
        assert (step.state, step.referral_id) == (StepState.REFERRED, new_id)
        same = case.refused(
            cmd.RedirectReferral, referral_id=new_id, institution="casa-refugio", reason="x"
        )
        assert same.code == "invalid_transition"

    @pytest.mark.parametrize(
        ("action", "reason"),
        [
            (StepAction.COMPLETE, "step_completed"),
            (StepAction.DECLINE, "step_declined"),
            (StepAction.REFER, "referred_again"),
        ],
    )
    def test_the_caseworker_acting_on_the_step_withdraws_its_referral(
        self, action: StepAction, reason: str
    ) -> None:
        case, referral_id = referred()
        answer(case, referral_id, ReferralDecision.ACCEPTED)
        events = case.later(HOUR).do(
            cmd.AdvanceStep,
            step=Step.SHELTER,
            action=action,
            institution="casa-refugio",
            reason="the person chose",
        )
        assert events[0].type == "ReferralRevoked"
        assert events[0].data.reason == reason  # type: ignore[union-attr]
        assert case.state.referrals[referral_id].state is ReferralState.REVOKED

    def test_withdrawn_consent_revokes_referrals_but_not_overridden_ones(self) -> None:
        case, consented = referred()
        case, overridden = referred(case, step=Step.HEALTH)
        case.state = case.state.model_copy(
            update={
                "referrals": {
                    **case.state.referrals,
                    overridden: case.state.referrals[overridden].model_copy(
                        update={"consent_override": "risk"}
                    ),
                }
            }
        )
        case.do(cmd.WithdrawConsent, scope=ConsentScope.DATA_SHARING)
        assert case.state.referrals[consented].state is ReferralState.REVOKED
        assert case.state.referrals[overridden].state is ReferralState.SENT

    def test_closure_revokes_every_live_referral(self) -> None:
        case, referral_id = referred()
        case.do(cmd.RequestClosure, reason=ClosureReason.LOST_CONTACT)
        events = case.do(cmd.DecideClosure, approved=True, actor="sofia")
        assert [e.type for e in events] == ["ClosureDecided", "ReferralRevoked", "CaseClosed"]
        assert case.state.referrals[referral_id].reason == "case_closed"


class TestRegistryAndPayload:
    registry = Registry(
        institutions=(
            Institution(
                id=SHELTER, name="Hogar", steps=frozenset({Step.SHELTER}), channel=InboxChannel()
            ),
        )
    )

    def test_target_checks_the_institution_and_the_step(self) -> None:
        assert self.registry.target(SHELTER, Step.SHELTER).id == SHELTER
        with pytest.raises(errors.InstitutionUnknown):
            self.registry.target("nadie", Step.SHELTER)
        with pytest.raises(errors.InstitutionNotServingStep):
            self.registry.target(SHELTER, Step.LEGAL)

    def test_by_default_no_birth_date_no_notes_no_case_id(self) -> None:
        case, referral_id = referred()
        person = PERSON.model_copy(update={"birth_date": PERSON.birth_date or None})
        institution = self.registry.institutions[0]
        body = payload(
            case.state.referrals[referral_id],
            institution,
            crime_type=case.state.crime_type,
            person=person,
            victim=case.state.victim,
            due_at=None,
        )
        assert set(body["person"]) == {f.value for f in DEFAULT_SHARED}
        assert "birth_date" not in body["person"] and "case_id" not in body
        assert "crime_type" not in body and "exploitation_types" not in body
        wider = institution.model_copy(update={"shares": frozenset(SharedField)})
        body = payload(
            case.state.referrals[referral_id],
            wider,
            crime_type=case.state.crime_type,
            person=person,
            victim=case.state.victim,
            due_at=None,
        )
        assert "birth_date" in body["person"] and body["crime_type"] == "trafficking"


def test_a_referral_to_an_inbox_is_delivered_as_it_is_made() -> None:
    case = identified()
    events = case.later(HOUR).do(
        cmd.AdvanceStep,
        step=Step.SHELTER,
        action=StepAction.REFER,
        institution=SHELTER,
        channel=Channel.INBOX,
    )
    assert [e.type for e in events] == ["StepReferred", "ReferralDelivered"]
    (referral,) = case.state.referrals.values()
    assert (referral.state, referral.channel) == (ReferralState.DELIVERED, Channel.INBOX)
    assert not referral.awaits_delivery
    (moved,) = case.do(
        cmd.RedirectReferral,
        referral_id=referral.referral_id,
        institution="oim-retorno",
        reason="they asked for her",
        channel=Channel.WEBHOOK,
    )
    assert moved.type == "ReferralRedirected"  # a webhook's delivery is the workflow's to do
    new = case.state.referrals[moved.data.new_referral_id]  # type: ignore[union-attr]
    assert new.awaits_delivery
