"""The demo on the real dev server: visas near expiry listed, and in the caseworkers' inboxes;
institutions answer their referrals; the half-year report is the seed's table."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.client import Client

from amparo.cases import CaseCommands
from amparo.demo import DemoPlan, build_plans, half_year_victims, load_demo
from amparo.demo_proceedings import SEED_TABLE, build_proceedings, load_proceedings
from amparo.demo_users import ensure_demo_users
from amparo.devstack import DevServer
from amparo.proceedings import ProceedingCommands
from amparo.settings import Settings
from amparo.temporal import data_converter
from amparo.users import UserDirectory
from amparo.wiring import event_store
from domain import commands as cmd
from domain.statistics import Period
from domain.visas import schedule
from domain.vocabulary import ReferralDecision, ReferralState, Step, StepState
from reports.model import Variant
from reports.statistics import statistics_report
from store.db import make_engine
from store.migrate import upgrade
from store.notifications import Inbox
from store.proceedings import ProceedingStore
from store.read_models import CaseReads
from store.referrals import ReferralReads, ReferralSummary
from store.visas import VisaReads
from worker import build_worker


@pytest.mark.timeout(600)
async def test_demo_shows_visas_expiring_within_30_days_in_lists_and_inboxes(
    dev_server: DevServer, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'amparo.db'}"
    upgrade(url)
    engine = make_engine(url)
    ensure_demo_users(UserDirectory(engine))
    settings = Settings(task_queue=f"demo-{uuid.uuid4()}", database_url=url, data_dir=tmp_path)
    client = await Client.connect(dev_server.config.address, data_converter=data_converter())
    commands = CaseCommands(client, task_queue=settings.task_queue)
    reads = CaseReads(engine)
    now = datetime.now(UTC)
    plans = build_plans(now)
    registered = {
        c.number: (plan.opening.assigned_to, c)
        for plan in plans
        for c in plan.commands
        if isinstance(c, cmd.RegisterVisa)
    }
    soon = {n: v for n, v in registered.items() if (v[1].expires_on - now.date()).days <= 30}
    assert soon, "the demo has visas expiring within 30 days"

    async with build_worker(client, settings, event_store(engine, settings), engine=engine):
        summary = await load_demo(commands, lambda case_id: reads.get(case_id) is not None, now=now)
        assert summary.opened == len(plans)
        listed = VisaReads(engine).list(now.date(), expiring_within_days=30, limit=200).items
        assert len(listed) == len(soon)
        assert all((v.expires_on - now.date()).days <= 30 for v in listed)

        # Registered today, late: each caseworker hears at once, and once, of every visa
        # whose first reminder date has passed (the others wait for their dates).
        inbox = Inbox(engine)
        caught_up = [
            caseworker
            for caseworker, c in registered.values()
            if schedule(c.expires_on, c.policy, now)[0].at == now
        ]
        assert caught_up
        expected = {caseworker: caught_up.count(caseworker) for caseworker in caught_up}

        def reminders(user: str) -> list[str]:
            notices = inbox.list(user, limit=500)
            return [n.params["visa_id"] for n in notices if n.kind == "visa_expiring"]

        for _ in range(200):
            if all(len(reminders(u)) == count for u, count in expected.items()):
                break
            await asyncio.sleep(0.1)
        for user, count in expected.items():
            assert len(reminders(user)) == count, user
            assert len(set(reminders(user))) == count  # once each

        await _an_institution_answers_its_demo_referrals(commands, engine)
        _the_half_year_report_is_the_seed_table(engine, plans, now)

        again = await load_demo(commands, lambda case_id: reads.get(case_id) is not None, now=now)
        assert again.opened == 0 and again.skipped == len(plans)
    engine.dispose()


def _the_half_year_report_is_the_seed_table(
    engine: Engine, plans: list[DemoPlan], now: datetime
) -> None:
    """With the demo's proceedings, January–June 2017 gives the seed report's table, in
    full and (none of its figures is below 5) in the public variant too."""
    proceedings = ProceedingCommands(ProceedingStore(engine))
    loaded, skipped = load_proceedings(proceedings, half_year_victims(plans), now)
    assert (loaded, skipped) == (len(build_proceedings(now, {})), 0)
    period = Period(date(2017, 1, 1), date(2017, 6, 30), "America/Santo_Domingo")
    for variant in Variant:
        report = statistics_report(engine, period, variant=variant, now=now)
        table = {f.crime_type: {i.value: v for i, v in f.values.items()} for f in report.figures}
        assert table == SEED_TABLE, variant
    assert load_proceedings(proceedings, half_year_victims(plans), now) == (0, loaded)


async def _an_institution_answers_its_demo_referrals(
    commands: CaseCommands, engine: Engine
) -> None:
    """The shelter's user finds referrals waiting (delivered to its inbox) and accepted ones;
    accepts one and completes another; the caseworker's case shows both steps move."""
    referrals, cases = ReferralReads(engine), CaseReads(engine)

    def hogar(state: ReferralState) -> list[ReferralSummary]:
        return list(referrals.list(institution="hogar-oblatas", state=state, limit=200).items)

    for _ in range(200):  # the worker delivers the waiting ones right after the load
        if not hogar(ReferralState.SENT):
            break
        await asyncio.sleep(0.1)
    waiting, accepted = hogar(ReferralState.DELIVERED), hogar(ReferralState.ACCEPTED)
    assert waiting and accepted and not hogar(ReferralState.SENT)
    for referral, decision, moved_to in (
        (waiting[0], ReferralDecision.ACCEPTED, StepState.IN_PROGRESS),
        (accepted[0], ReferralDecision.COMPLETED, StepState.COMPLETED),
    ):
        answer = cmd.AnswerReferral(
            command_id=uuid.uuid4(),
            actor="hermana.lucia",
            at=datetime.now(UTC),
            referral_id=referral.referral_id,
            institution="hogar-oblatas",
            decision=decision,
        )
        await commands.send(referral.case_id, answer)
        case = cases.get(referral.case_id)
        assert case is not None
        assert {s.step: s.state for s in case.steps}[Step.SHELTER] is moved_to
