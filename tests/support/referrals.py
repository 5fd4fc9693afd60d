"""Cases with referrals: realistic referral histories decided by the real domain.

On top of `tests.support.cases`: identified cases whose steps are referred to the demo
institutions, then delivered, answered (accepted, declined, completed), revoked,
redirected and closed, in random order over weeks.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from domain import commands as cmd
from domain.vocabulary import (
    SYSTEM_ACTOR,
    Channel,
    ClosureReason,
    IdentificationOutcome,
    ReferralDecision,
    Step,
    StepAction,
)
from tests.support.cases import CaseHistory, _base, random_case

INSTITUTIONS = ("hogar-oblatas", "salud-publica", "migracion", "procuraduria-pett")


def _refer(rng: random.Random, history: CaseHistory, now: datetime) -> None:
    steps = [s.step for s in history.state.open_steps() if s.step is not Step.IDENTIFICATION]
    if steps:
        history.record(
            cmd.AdvanceStep(
                **_base(rng, now),
                step=rng.choice(steps),
                action=StepAction.REFER,
                institution=rng.choice(INSTITUTIONS),
                consent_override=rng.choice((None, "risk to life")),
            )
        )


def _live(history: CaseHistory) -> list[object]:
    return [r for r in history.state.referrals.values() if not r.final]


def _follow_up(rng: random.Random, history: CaseHistory, now: datetime) -> None:
    live = [r for r in history.state.referrals.values() if not r.final]
    if not live:
        return
    referral = rng.choice(live)
    kind = rng.choices(("deliver", "answer", "revoke", "redirect"), weights=(4, 6, 1, 1))[0]
    command: cmd.Command
    if kind == "deliver":
        command = cmd.RecordReferralDelivered(
            **_base(rng, now, SYSTEM_ACTOR),
            referral_id=referral.referral_id,
            channel=rng.choice(list(Channel)),
        )
    elif kind == "answer":
        command = cmd.AnswerReferral(
            **_base(rng, now, "hermana.lucia"),
            referral_id=referral.referral_id,
            institution=referral.institution,
            decision=rng.choice(list(ReferralDecision)),
            reference=rng.choice((None, f"EXP-{rng.randint(1, 999)}")),
            note="no places left",
        )
    elif kind == "revoke":
        command = cmd.RevokeReferral(
            **_base(rng, now), referral_id=referral.referral_id, reason="person moved"
        )
    else:
        others = [i for i in INSTITUTIONS if i != referral.institution]
        command = cmd.RedirectReferral(
            **_base(rng, now),
            referral_id=referral.referral_id,
            institution=rng.choice(others),
            reason="no answer",
        )
    history.record(command)


def referral_case(rng: random.Random, *, ticks: int = 14) -> CaseHistory:
    """An identified case whose steps are referred and answered over a few weeks."""
    history = random_case(rng, commands=0)
    now = history.state.opened_at
    assert now is not None
    now += timedelta(hours=2)
    history.record(
        cmd.AdvanceStep(
            **_base(rng, now),
            step=Step.IDENTIFICATION,
            action=StepAction.COMPLETE,
            outcome=IdentificationOutcome.CONFIRMED_VICTIM,
        )
    )
    for _ in range(ticks):
        if not history.state.is_open:
            break
        now += timedelta(hours=rng.expovariate(1 / 30))
        action = rng.choices(("refer", "follow", "close"), weights=(3, 6, 0.3))[0]
        if action == "refer":
            _refer(rng, history, now)
        elif action == "follow":
            _follow_up(rng, history, now)
        elif history.record(
            cmd.RequestClosure(**_base(rng, now), reason=ClosureReason.LOST_CONTACT)
        ):
            history.record(cmd.DecideClosure(**_base(rng, now), approved=True))
    return history


def referral_cases(seed: int, count: int) -> list[CaseHistory]:
    rng = random.Random(seed)
    return [referral_case(rng) for _ in range(count)]
