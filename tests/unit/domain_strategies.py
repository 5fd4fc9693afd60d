"""Builders and hypothesis strategies shared by the domain's unit tests.

`Case` drives one case the way its workflow does: decide a command on the current
state, then fold the events in. The strategies draw commands of every kind, with valid
and invalid parameters, biased towards what the current state can accept so random
sequences get deep into the path (identified, assistance, closure) instead of stopping
at the first refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import strategies as st

from domain import CaseState, DomainError, Event, decide, errors, evolve_all
from domain import commands as cmd
from domain.person import ExploitationType, MeansOfControl, Person, Sex, VictimContext
from domain.sla import SlaPolicy
from domain.vocabulary import (
    SYSTEM_ACTOR,
    Channel,
    ClosureReason,
    ConsentScope,
    CrimeType,
    IdentificationOutcome,
    ReferralDecision,
    Step,
    StepAction,
    StepState,
    VisaKind,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CASE_ID = UUID("0b6f3c1e-7a52-4d38-9f0e-2c4b8a6d1e90")
PERSON = Person(given_name="María", family_name="Quispe", sex=Sex.FEMALE, nationality="BO")
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass
class Case:
    """One case driven as its workflow drives it: decide, then fold the events in."""

    state: CaseState = field(default_factory=CaseState)
    events: list[Event] = field(default_factory=list)
    now: datetime = T0
    issued: int = 0

    def command(self, kind: type[Any], **fields: Any) -> Any:
        """A command of `kind` at the case's clock, with a fresh command id."""
        self.issued += 1
        fields.setdefault("actor", "ana")
        fields.setdefault("at", self.now)
        return kind(command_id=UUID(int=self.issued), **fields)

    def do(self, kind: type[Any], **fields: Any) -> list[Event]:
        """Decide and apply; a refusal propagates."""
        events = decide(self.state, self.command(kind, **fields))
        self.state = evolve_all(self.state, events)
        self.events.extend(events)
        return events

    def refused(self, kind: type[Any], **fields: Any) -> DomainError:
        """The refusal of the command; fails if it is accepted or the state changed."""
        before = self.state.model_dump()
        try:
            decide(self.state, self.command(kind, **fields))
        except DomainError as error:
            assert self.state.model_dump() == before
            return error
        raise AssertionError(f"{kind.__name__} {fields} was accepted")

    def later(self, delta: timedelta) -> Case:
        self.now += delta
        return self


def opened(
    *,
    consent: bool = True,
    sla: SlaPolicy | None = None,
    occurred_at: datetime | None = None,
    actor: str = "ana",
) -> Case:
    """A trafficking case opened at T0 (by `actor`, with both consents unless told not to)."""
    case = Case()
    case.do(
        cmd.OpenCase,
        case_id=CASE_ID,
        crime_type=CrimeType.TRAFFICKING,
        person=PERSON,
        assigned_to="ana",
        consent=cmd.Consent(assistance=consent, data_sharing=consent),
        sla=sla or SlaPolicy(),
        occurred_at=occurred_at,
        actor=actor,
    )
    return case


def identified(
    outcome: IdentificationOutcome = IdentificationOutcome.CONFIRMED_VICTIM, **kwargs: Any
) -> Case:
    """An opened case whose identification completed an hour later with `outcome`."""
    case = opened(**kwargs)
    case.later(HOUR).do(
        cmd.AdvanceStep, step=Step.IDENTIFICATION, action=StepAction.COMPLETE, outcome=outcome
    )
    return case


# CONTRACT.md, "The protection path", the caseworker's actions on a step.
OPEN_STATES = frozenset({StepState.PENDING, StepState.REFERRED, StepState.IN_PROGRESS})
CONTRACT_ACTIONS: dict[StepAction, tuple[frozenset[StepState], StepState]] = {
    StepAction.REFER: (frozenset({StepState.PENDING, StepState.IN_PROGRESS}), StepState.REFERRED),
    StepAction.START: (frozenset({StepState.PENDING, StepState.REFERRED}), StepState.IN_PROGRESS),
    StepAction.COMPLETE: (OPEN_STATES, StepState.COMPLETED),
    StepAction.NOT_NEEDED: (OPEN_STATES, StepState.NOT_NEEDED),
    StepAction.DECLINE: (OPEN_STATES, StepState.DECLINED),
}

# --- strategies ------------------------------------------------------------------------

ENDINGS = (StepAction.NOT_NEEDED, StepAction.DECLINE)

ACTORS = st.sampled_from(["ana", "luis", "sofia"])
OPTIONAL_TEXTS = st.sampled_from([None, "", "   ", "called the shelter", "ñandú ✓", "ok", "no"])
TEXTS = st.sampled_from(["", "  \t", "met at the consulate", "ok"])
INSTITUTIONS = st.sampled_from([None, " ", "Casa Refugio", "Fiscalía", "Consulado", "OIM"])
WAITS = st.one_of(
    st.just(0),
    st.integers(1, 120),
    st.integers(0, 3 * 86_400),
    st.integers(0, 120 * 86_400),
).map(lambda s: timedelta(seconds=s))

sla_policies = st.one_of(
    st.just(SlaPolicy()),
    st.builds(
        SlaPolicy.with_overrides,
        st.dictionaries(st.sampled_from([s.value for s in Step]), st.integers(1, 40)),
        st.integers(1, 60),
    ),
)

persons = st.builds(
    Person,
    given_name=st.text(min_size=1, max_size=12),
    family_name=st.text(min_size=1, max_size=12),
    sex=st.sampled_from(Sex),
    birth_date=st.none() | st.dates(date(1940, 1, 1), date(2024, 12, 31)),
    nationality=st.sampled_from(["BO", "pe", " ve ", "CO", "HT"]),
    languages=st.lists(st.sampled_from(["es", "qu", "ay", "ht"]), max_size=3).map(tuple),
)

victims = st.builds(
    VictimContext,
    exploitation_types=st.lists(st.sampled_from(ExploitationType), max_size=2).map(tuple),
    means_of_control=st.lists(st.sampled_from(MeansOfControl), max_size=2).map(tuple),
    country_of_exploitation=st.none() | st.sampled_from(["AR", "cl"]),
    is_abduction=st.none() | st.booleans(),
)


@st.composite
def occurred(draw: st.DrawFn, state: CaseState, now: datetime) -> datetime | None:
    """Mostly none (now); sometimes in the past (maybe before opening), sometimes future."""
    # Composites, not `.map(lambda ...)`: strategies built per state would have hypothesis
    # extract each lambda's source for its label, which dominated the run time.
    mode = draw(st.sampled_from(["now", "now", "now", "now", "now", "past", "future"]))
    if mode == "now":
        return None
    if mode == "future":
        return now + timedelta(seconds=draw(st.integers(1, 86_400)))
    opened_at = state.opened_at or now
    back = int((now - opened_at).total_seconds()) + 86_400
    return now - timedelta(seconds=draw(st.integers(0, back)))


def _step(state: CaseState, *, overdue: bool = False) -> st.SearchStrategy[Step]:
    """Any step, but mostly an open one (an overdue one, if `overdue`)."""
    every = st.sampled_from(Step)
    likely = [s.step for s in state.open_steps() if s.overdue or not overdue]
    return st.sampled_from(likely) | st.sampled_from(likely) | every if likely else every


def open_case(state: CaseState, now: datetime) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "case_id": st.just(CASE_ID),
            "crime_type": st.sampled_from(CrimeType),
            "person": persons,
            "victim": victims,
            "identified_by": st.none() | st.just("Policía"),
            "location": st.none() | st.just("Desaguadero"),
            "assigned_to": ACTORS,
            "institution": st.none() | st.just("Defensoría"),
            "consent": st.builds(
                cmd.Consent,
                assistance=st.sampled_from([True, True, False]),
                data_sharing=st.sampled_from([True, True, False]),
            ),
            "sla": sla_policies,
            "actor": ACTORS,
            "occurred_at": st.sampled_from([None, None, now - 9 * DAY, now - HOUR, now + SECOND]),
        }
    )


@st.composite
def advance_step(draw: st.DrawFn, state: CaseState, now: datetime) -> dict[str, Any]:
    step = draw(_step(state))
    status = state.steps.get(step)
    actions = list(StepAction)
    aim = draw(st.sampled_from(["any", "allowed", "allowed", "refused"]))
    if status is not None and not status.final and aim != "any":
        # Mostly what the contract allows from the step's state (to get deep into the
        # path), sometimes exactly what it does not (to probe the table's edges).
        allowed = [a for a, (f, _) in CONTRACT_ACTIONS.items() if status.state in f]
        if aim == "allowed" and step is Step.IDENTIFICATION:
            # Ending identification any other way than completing it ends the path.
            actions = [StepAction.COMPLETE, *(a for a in allowed if a not in ENDINGS)]
        elif aim == "allowed":
            actions = [*allowed, StepAction.COMPLETE, StepAction.START]
        else:
            actions = [a for a in StepAction if a not in allowed] or actions
    if step is Step.IDENTIFICATION:
        outcomes = [*IdentificationOutcome, IdentificationOutcome.CONFIRMED_VICTIM, None]
    else:
        outcomes = [None, None, None, None, IdentificationOutcome.SMUGGLED_PERSON]
    return {
        "step": step,
        "action": draw(st.sampled_from(actions)),
        "institution": draw(INSTITUTIONS),
        "outcome": draw(st.sampled_from(outcomes)),
        "reason": draw(OPTIONAL_TEXTS),
        "note": draw(OPTIONAL_TEXTS),
        "occurred_at": draw(occurred(state, now)),
        "actor": draw(ACTORS),
        "consent_override": draw(st.sampled_from([None, None, None, " ", "risk to life"])),
        "channel": draw(st.sampled_from([None, Channel.INBOX, Channel.WEBHOOK])),
    }


def _with(state: CaseState, now: datetime, **fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"actor": ACTORS, "occurred_at": occurred(state, now), **fields})


def _timer(state: CaseState, now: datetime) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "actor": st.sampled_from([SYSTEM_ACTOR, SYSTEM_ACTOR, "ana"]),
            "step": _step(state),
            "occurred_at": st.none() | occurred(state, now),
        }
    )


def _visa_id(state: CaseState) -> st.SearchStrategy[UUID]:
    """Mostly a visa the case holds, sometimes one it does not."""
    held = sorted(state.visas)
    unknown = st.just(UUID(int=404))
    return st.sampled_from(held) | st.sampled_from(held) | unknown if held else unknown


def _expiry(state: CaseState, visa_id: UUID) -> date:
    visa = state.visas.get(visa_id)
    return visa.expires_on if visa else date(2030, 1, 1)


@st.composite
def register_visa(draw: st.DrawFn, state: CaseState, now: datetime) -> dict[str, Any]:
    issued = now.date() - timedelta(days=draw(st.integers(-5, 400)))
    return {
        "actor": draw(ACTORS),
        "visa_kind": draw(st.sampled_from(VisaKind)),
        "number": "V-1",
        "issued_on": issued,
        "expires_on": issued + timedelta(days=draw(st.integers(-5, 800))),
    }


@st.composite
def renew_visa(draw: st.DrawFn, state: CaseState, now: datetime) -> dict[str, Any]:
    visa_id = draw(_visa_id(state))
    days = draw(st.integers(-30, 400))
    return {
        "actor": draw(ACTORS),
        "visa_id": visa_id,
        "expires_on": _expiry(state, visa_id) + timedelta(days=days),
    }


@st.composite
def visa_alert(draw: st.DrawFn, state: CaseState, now: datetime) -> dict[str, Any]:
    visa_id = draw(_visa_id(state))
    fields = {"actor": SYSTEM_ACTOR, "visa_id": visa_id, "expires_on": _expiry(state, visa_id)}
    return fields | {"days": draw(st.sampled_from([90, 60, 30, 7, 5]))}


def _referral_id(state: CaseState) -> st.SearchStrategy[UUID]:
    """Mostly a referral the case made (a live one more often), sometimes an unknown one."""
    made = sorted(state.referrals)
    live = [r for r in made if not state.referrals[r].final]
    unknown = st.just(UUID(int=405))
    if not made:
        return unknown
    return st.sampled_from(live or made) | st.sampled_from(made) | unknown


@st.composite
def answer_referral(draw: st.DrawFn, state: CaseState, now: datetime) -> dict[str, Any]:
    referral_id = draw(_referral_id(state))
    referral = state.referrals.get(referral_id)
    own = referral.institution if referral else "Casa Refugio"
    return {
        "actor": draw(st.sampled_from(["hermana.lucia", "dr.vargas"])),
        "referral_id": referral_id,
        "institution": draw(st.sampled_from([own, own, own, "OIM"])),
        "decision": draw(st.sampled_from(ReferralDecision)),
        "reference": draw(st.sampled_from([None, "EXP-12"])),
        "note": draw(OPTIONAL_TEXTS),
        "occurred_at": draw(occurred(state, now)),
    }


FieldsFor = Callable[[CaseState, datetime], st.SearchStrategy[dict[str, Any]]]
FIELDS: dict[type[Any], FieldsFor] = {
    cmd.OpenCase: open_case,
    cmd.AssignCase: lambda s, n: _with(
        s, n, caseworker=ACTORS, institution=st.none() | st.just("Defensoría")
    ),
    cmd.AdvanceStep: advance_step,
    cmd.AddNote: lambda s, n: _with(s, n, text=TEXTS, step=st.none() | st.sampled_from(Step)),
    cmd.GiveConsent: lambda s, n: _with(s, n, scope=st.sampled_from(ConsentScope)),
    cmd.WithdrawConsent: lambda s, n: _with(s, n, scope=st.sampled_from(ConsentScope)),
    cmd.RequestClosure: lambda s, n: _with(
        s, n, reason=st.sampled_from(ClosureReason), note=OPTIONAL_TEXTS
    ),
    # Mostly rejected: an approval ends the sequence's interest in the case.
    cmd.DecideClosure: lambda s, n: _with(
        s, n, approved=st.sampled_from([True, False, False]), note=OPTIONAL_TEXTS
    ),
    cmd.AcknowledgeOverdue: lambda s, n: _with(s, n, step=_step(s, overdue=True), note=TEXTS),
    cmd.RecordOverdue: _timer,
    cmd.EscalateOverdue: _timer,
    cmd.RegisterVisa: register_visa,
    cmd.RenewVisa: renew_visa,
    cmd.CancelVisa: lambda s, n: _with(s, n, visa_id=_visa_id(s), reason=TEXTS),
    cmd.RecordVisaReminder: visa_alert,
    cmd.RecordVisaExpiry: lambda s, n: visa_alert(s, n).map(
        lambda f: {k: v for k, v in f.items() if k != "days"}
    ),
    cmd.AnswerReferral: answer_referral,
    cmd.RevokeReferral: lambda s, n: _with(s, n, referral_id=_referral_id(s), reason=TEXTS),
    cmd.RedirectReferral: lambda s, n: _with(
        s,
        n,
        referral_id=_referral_id(s),
        institution=INSTITUTIONS.filter(bool),
        reason=TEXTS,
        channel=st.sampled_from([None, Channel.INBOX]),
    ),
    cmd.ErasePerson: lambda s, n: _with(s, n, reason=TEXTS),
    cmd.RecordReferralDelivered: lambda s, n: st.fixed_dictionaries(
        {
            "actor": st.just(SYSTEM_ACTOR),
            "referral_id": _referral_id(s),
            "channel": st.sampled_from(Channel),
        }
    ),
}
# Step actions weigh more: they are what moves a case along its path.
KINDS = st.sampled_from([*FIELDS, *[cmd.AdvanceStep] * 5])


def closed_refusal(command: Any) -> type[DomainError]:
    """What a closed case answers `command`: an opening finds its id taken, the rest closed.

    The same codes the command gateway gives once the case's workflow has ended
    (Temporal refuses to reuse the id), so the answer does not depend on timing.
    """
    return errors.CaseAlreadyOpen if isinstance(command, cmd.OpenCase) else errors.CaseClosed


def one_of_each(now: datetime) -> list[Any]:
    """One valid-looking command of every kind, to probe what a state accepts."""
    base: dict[str, Any] = {"actor": "ana", "at": now}
    return [
        cmd.OpenCase(
            command_id=UUID(int=1),
            case_id=CASE_ID,
            crime_type=CrimeType.SMUGGLING,
            person=PERSON,
            assigned_to="ana",
            **base,
        ),
        cmd.AssignCase(command_id=UUID(int=2), caseworker="zoe", **base),
        *(
            cmd.AdvanceStep(
                command_id=UUID(int=3),
                step=step,
                action=action,
                institution="Casa Refugio",
                reason="no longer needed",
                outcome=IdentificationOutcome.CONFIRMED_VICTIM
                if step is Step.IDENTIFICATION
                else None,
                **base,
            )
            for step in Step
            for action in StepAction
        ),
        cmd.AddNote(command_id=UUID(int=4), text="a note", **base),
        cmd.GiveConsent(command_id=UUID(int=5), scope=ConsentScope.ASSISTANCE, **base),
        cmd.WithdrawConsent(command_id=UUID(int=6), scope=ConsentScope.DATA_SHARING, **base),
        cmd.RequestClosure(command_id=UUID(int=7), reason=ClosureReason.DECEASED, **base),
        cmd.DecideClosure(command_id=UUID(int=8), approved=True, **base),
        *(
            kind(command_id=UUID(int=9), step=step, note="seen", **base)
            if kind is cmd.AcknowledgeOverdue
            else kind(command_id=UUID(int=9), step=step, **base)
            for kind in (cmd.AcknowledgeOverdue, cmd.RecordOverdue, cmd.EscalateOverdue)
            for step in Step
        ),
        cmd.RegisterVisa(
            command_id=UUID(int=10),
            visa_kind=VisaKind.RESIDENCE,
            number="R-1",
            issued_on=now.date(),
            expires_on=now.date() + timedelta(days=365),
            **base,
        ),
        cmd.RenewVisa(
            command_id=UUID(int=11), visa_id=UUID(int=404), expires_on=now.date(), **base
        ),
        cmd.CancelVisa(command_id=UUID(int=12), visa_id=UUID(int=404), reason="left", **base),
        cmd.RecordVisaReminder(
            command_id=UUID(int=13), visa_id=UUID(int=404), expires_on=now.date(), days=7, **base
        ),
        cmd.RecordVisaExpiry(
            command_id=UUID(int=14), visa_id=UUID(int=404), expires_on=now.date(), **base
        ),
        cmd.AnswerReferral(
            command_id=UUID(int=15),
            referral_id=UUID(int=405),
            institution="Casa Refugio",
            decision=ReferralDecision.ACCEPTED,
            **base,
        ),
        cmd.RevokeReferral(command_id=UUID(int=16), referral_id=UUID(int=405), reason="x", **base),
        cmd.RedirectReferral(
            command_id=UUID(int=17),
            referral_id=UUID(int=405),
            institution="OIM",
            reason="full",
            **base,
        ),
        cmd.RecordReferralDelivered(
            command_id=UUID(int=18), referral_id=UUID(int=405), channel=Channel.INBOX, **base
        ),
        cmd.ErasePerson(command_id=UUID(int=19), reason="her request, art. 17", **base),
    ]
