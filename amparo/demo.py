"""Demo data: the half-year of the seed report (January–June 2017), as cases walk their path.

25 identified victims of trafficking and 63 smuggled persons, identified between January
and June 2017, each followed along the protection path. Most paths ended long ago; some are
still open at every later step, a few with recent activity and a few stuck (overdue); a
few cases opened days ago are still at identification. Work is
recorded after the fact (`occurred_at`), as caseworkers really do. Everything is derived
from a seed, so loading twice changes nothing.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from amparo.cases import CaseCommands, CommandPending, CommandRefused
from amparo.demo_users import DEMO_USERS
from amparo.users import Role
from domain import commands as cmd
from domain.ids import derived_id
from domain.person import ExploitationType, LabourIndustry, MeansOfControl, Person, VictimContext
from domain.sla import SlaPolicy
from domain.vocabulary import CrimeType, ReferralDecision, VisaKind
from workflows.contracts import CommandResult

DEMO_NAMESPACE = uuid.UUID("5f0c2a52-6a57-4d55-9a59-2f0d7b1d2017")
HALF_YEAR_START = datetime(2017, 1, 2, 9, 0, tzinfo=UTC)
HALF_YEAR_DAYS = 178

CASEWORKERS = {  # caseworker -> institution (their supervisors are in users' demo data)
    CrimeType.TRAFFICKING: [
        ("ana.martinez", "procuraduria-pett"),
        ("luis.fernandez", "procuraduria-pett"),
    ],
    CrimeType.SMUGGLING: [("carmen.rosario", "migracion"), ("jose.santana", "migracion")],
}
SUPERVISORS = {"procuraduria-pett": "sofia.reyes", "migracion": "miguel.batista"}
# Who answers referrals for each institution the demo refers to (amparo.demo_users).
INSTITUTION_USERS = {
    u.institution: u.username for u in reversed(DEMO_USERS) if u.role is Role.INSTITUTION
}
REFER_TO = {
    "shelter": "hogar-oblatas",
    "health": "salud-publica",
    "legal": "procuraduria-pett",
    "documentation": "migracion",
    "return_reintegration": "gcps-reintegracion",
}
GIVEN = {
    "female": [
        "María",
        "Rosa",
        "Yuderka",
        "Altagracia",
        "Daniela",
        "Marie",
        "Nadège",
        "Li",
        "Yaneisy",
    ],
    "male": ["José", "Jean", "Pierre", "Wilkin", "Carlos", "Ramón", "Wei", "Yoel", "Luis"],
}
FAMILY = [
    "Peña",
    "Núñez",
    "Joseph",
    "Pérez",
    "Jean-Baptiste",
    "Rodríguez",
    "Louis",
    "Báez",
    "Zhang",
    "Castillo",
    "Ortiz",
    "Charles",
    "Guzmán",
    "Ramírez",
    "Pierre",
    "Sánchez",
]
NATIONALITIES = {
    CrimeType.TRAFFICKING: (["DO", "VE", "HT", "CO", "CN"], [10, 6, 4, 4, 1]),
    CrimeType.SMUGGLING: (["HT", "VE", "CU", "DO", "CO"], [30, 14, 8, 8, 3]),
}
# Where each case's path stands today: mostly closed, some still open at every step.
STAGES = ["closed"] * 12 + [
    "shelter",
    "shelter",
    "health",
    "legal",
    "legal",
    "documentation",
    "documentation",
    "return_reintegration",
    "return_reintegration",
    "closure_requested",
]

# Cases opened days ago, still at identification (outside the half-year's figures).
RECENT = [CrimeType.TRAFFICKING, CrimeType.SMUGGLING, CrimeType.SMUGGLING, CrimeType.TRAFFICKING]

# People still on their path today hold a visa or permit; some expire within weeks.
VISA_STAGES = {"legal", "documentation", "return_reintegration"}
VISA_KINDS = {
    CrimeType.TRAFFICKING: [VisaKind.RESIDENCE, VisaKind.HUMANITARIAN],
    CrimeType.SMUGGLING: [VisaKind.WORK, VisaKind.TEMPORARY_RESIDENCE],
}
VISA_DAYS_LEFT = [9, 16, 23, 28, 45, 75, 150, 240, 330]


@dataclass
class DemoPlan:
    """One demo case: its opening and the commands that follow, in order."""

    opening: cmd.OpenCase
    commands: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class DemoSummary:
    opened: int
    skipped: int
    commands: int


class _Clock:
    """Backdated moments of one case, never later than a minute ago."""

    def __init__(self, start: datetime, now: datetime) -> None:
        self.at = start
        self.latest = now - timedelta(minutes=1)

    def after(self, days: float) -> datetime:
        self.at = min(self.at + timedelta(days=days), self.latest)
        return self.at


def _person(rng: random.Random, crime: CrimeType) -> Person:
    sex = rng.choice(
        ["female", "female", "male"] if crime is CrimeType.TRAFFICKING else ["male", "female"]
    )
    codes, weights = NATIONALITIES[crime]
    born = date(1975, 1, 1) + timedelta(days=rng.randrange(0, 365 * 30))
    return Person(
        given_name=rng.choice(GIVEN[sex]),
        family_name=f"{rng.choice(FAMILY)} {rng.choice(FAMILY)}",
        sex=sex,
        birth_date=born,
        nationality=rng.choices(codes, weights)[0],
        languages=("es",),
    )


def _victim(rng: random.Random, crime: CrimeType) -> VictimContext:
    if crime is CrimeType.SMUGGLING:
        return VictimContext()
    labour = rng.random() < 0.35
    return VictimContext(
        exploitation_types=(ExploitationType.FORCED_LABOUR if labour else ExploitationType.SEXUAL,),
        means_of_control=tuple(rng.sample(list(MeansOfControl)[:15], 2)),
        labour_industry=rng.choice(list(LabourIndustry)) if labour else None,
        country_of_exploitation="DO",
    )


def build_plans(now: datetime, seed: int = 2017) -> list[DemoPlan]:
    """Every demo case, deterministic for a seed (ids included)."""
    rng = random.Random(seed)
    crimes = [CrimeType.TRAFFICKING] * 25 + [CrimeType.SMUGGLING] * 63
    plans = [_plan(rng, index, crime, now) for index, crime in enumerate(crimes)]
    for index, crime in enumerate(RECENT, start=len(crimes)):  # their own draws
        plans.append(_plan(random.Random(f"recent-{index}"), index, crime, now, recent=True))
    for index, plan in enumerate(plans):
        plan.commands.insert(0, _interview_note(plan.opening, index))
    return plans


# A first-interview note per person, each its own words (the kind of text that must never
# be readable outside the case: `tests/integration/test_no_plaintext_anywhere.py`).
NOTE_PLACES = ["Higüey", "Boca Chica", "Jimaní", "Puerto Plata", "Bávaro", "Elías Piña"]
NOTE_FEARS = [
    "teme que el reclutador sepa dónde vive su familia",
    "pide que no se contacte a su empleador anterior",
    "refiere deudas con quien organizó el viaje",
    "prefiere entrevistas con una mujer intérprete",
]


def _interview_note(opening: cmd.OpenCase, index: int) -> cmd.AddNote:
    """Recorded an hour after the opening; its own draws, so the cases stay as they were."""
    rng = random.Random(f"note-{index}")
    return cmd.AddNote(
        command_id=derived_id(opening.command_id, "interview-note"),
        actor=opening.actor,
        at=opening.at,
        occurred_at=opening.effective_at + timedelta(hours=1),
        text=f"Entrevista inicial n.º {index + 1}: encontrada en {rng.choice(NOTE_PLACES)}; "
        f"{rng.choice(NOTE_FEARS)}.",
    )


def half_year_victims(plans: list[DemoPlan]) -> dict[CrimeType, list[uuid.UUID]]:
    """The case ids of the half-year's people, by crime type (the proceedings link them)."""
    found: dict[CrimeType, list[uuid.UUID]] = {crime: [] for crime in CrimeType}
    for plan in plans:
        if plan.opening.effective_at < HALF_YEAR_START + timedelta(days=HALF_YEAR_DAYS):
            found[plan.opening.crime_type].append(plan.opening.case_id)
    return found


def _plan(
    rng: random.Random, index: int, crime: CrimeType, now: datetime, *, recent: bool = False
) -> DemoPlan:
    ids = _Ids(index)
    caseworker, institution = rng.choice(CASEWORKERS[crime])
    # Identified within the half-year (the report counts them there): opened by June 26th.
    # A few recent cases are still at identification, days after they opened.
    opened = HALF_YEAR_START + timedelta(
        days=rng.randrange(HALF_YEAR_DAYS - 4), hours=rng.randrange(8)
    )
    if recent:
        opened = now - timedelta(days=rng.uniform(1, 12))
    clock = _Clock(opened, now)
    opening = cmd.OpenCase(
        command_id=ids.next(),
        actor=caseworker,
        at=now,
        occurred_at=opened,
        case_id=ids.case_id,
        crime_type=crime,
        person=_person(rng, crime),
        victim=_victim(rng, crime),
        identified_by=rng.choice(["procuraduria-pett", "migracion", "policia-nacional"]),
        location=rng.choice(["Santo Domingo", "Santiago", "Dajabón", "Punta Cana"]),
        assigned_to=caseworker,
        institution=institution,
        consent=cmd.Consent(assistance=True, data_sharing=rng.random() < 0.9),
        sla=SlaPolicy(),
    )
    plan = DemoPlan(opening)
    stage = "identification" if recent else rng.choice(STAGES)
    step = _stepper(plan, ids, caseworker, now, clock)
    answer = _answerer(plan, ids, now, clock)
    if stage == "identification":
        return plan
    outcome = "confirmed_victim" if crime is CrimeType.TRAFFICKING else "smuggled_person"
    step("identification", "complete", rng.uniform(0.5, 3), outcome=outcome)
    _assistance(rng, step, answer, crime, stage, opening.consent.data_sharing, clock)
    if stage in VISA_STAGES:
        plan.commands += _visas(index, crime, caseworker, ids, now)
    if stage in ("closed", "closure_requested"):
        plan.commands.append(
            cmd.RequestClosure(
                command_id=ids.next(),
                actor=caseworker,
                at=now,
                occurred_at=clock.after(rng.uniform(3, 20)),
                reason="path_completed",
            )
        )
    if stage == "closed":
        plan.commands.append(
            cmd.DecideClosure(
                command_id=ids.next(),
                actor=SUPERVISORS[institution],
                at=now,
                occurred_at=clock.after(2),
                approved=True,
            )
        )
    return plan


def _assistance(
    rng: random.Random,
    step: Callable[..., uuid.UUID],
    answer: Callable[..., None],
    crime: CrimeType,
    stage: str,
    sharing: bool,
    clock: _Clock,
) -> None:
    """Walk the four assistance steps and return, stopping with `stage` left open.

    With the person's consent to share data a step is referred to its institution, whose
    users answer inside Amparo: the finished steps were accepted and completed by them;
    the open one waits for their answer, or they accepted it already.
    """
    order = ["shelter", "health", "legal", "documentation", "return_reintegration"]
    for name in order:
        if name == "documentation" and stage == "return_reintegration":
            # Regularization took years; return or reintegration began only weeks ago.
            clock.at = clock.latest - timedelta(days=rng.uniform(5, 120))
        if name == stage:
            referral = None
            if sharing and name in REFER_TO:
                referral = _referral(
                    step(name, "refer", rng.uniform(1, 10), institution=REFER_TO[name])
                )
            if rng.random() < 0.6:
                if referral is None:
                    step(name, "start", rng.uniform(1, 10))
                else:
                    answer(referral, REFER_TO[name], "accepted", rng.uniform(1, 10))
            if name != "documentation":
                return
            continue  # documentation stays open; return_reintegration has not opened yet
        if stage == "documentation" and name == "return_reintegration":
            return
        if crime is CrimeType.SMUGGLING and name in ("shelter", "legal") and rng.random() < 0.6:
            step(name, "not_needed", rng.uniform(0.5, 5), reason="returned within days")
            continue
        if sharing:
            referral = _referral(
                step(name, "refer", rng.uniform(0.2, 3), institution=REFER_TO[name])
            )
            answer(referral, REFER_TO[name], "accepted", 0.5)
            answer(referral, REFER_TO[name], "completed", rng.uniform(5, 60))
        else:
            step(name, "complete", rng.uniform(5, 60), note="Seguimiento registrado.")


def _referral(refer_command: uuid.UUID) -> uuid.UUID:
    """The id the domain gives the referral a refer command makes."""
    return derived_id(refer_command, "referral")


def _visas(
    index: int, crime: CrimeType, caseworker: str, ids: _Ids, now: datetime
) -> list[cmd.RegisterVisa]:
    """Most people still on their path hold a one-year visa, registered today (late: the
    reminders already passed are caught up by one, at once, in the caseworker's inbox)."""
    rng = random.Random(f"visa-{index}")  # its own draws: the cases stay as they were
    if rng.random() < 0.3:
        return []
    expires = now.date() + timedelta(days=rng.choice(VISA_DAYS_LEFT))
    kind = rng.choice(VISA_KINDS[crime])
    return [
        cmd.RegisterVisa(
            command_id=ids.next(),
            actor=caseworker,
            at=now,
            visa_kind=kind,
            number=f"{kind.value[:3].upper()}-{expires.year}-{index:04d}",
            issued_on=expires - timedelta(days=365),
            expires_on=expires,
        )
    ]


def _stepper(
    plan: DemoPlan, ids: _Ids, actor: str, now: datetime, clock: _Clock
) -> Callable[..., uuid.UUID]:
    def step(name: str, action: str, days: float, **extra: Any) -> uuid.UUID:
        command_id = ids.next()
        plan.commands.append(
            cmd.AdvanceStep.model_validate(
                {
                    "command_id": command_id,
                    "actor": actor,
                    "at": now,
                    "occurred_at": clock.after(days),
                    "step": name,
                    "action": action,
                    **extra,
                }
            )
        )
        return command_id

    return step


def _answerer(plan: DemoPlan, ids: _Ids, now: datetime, clock: _Clock) -> Callable[..., None]:
    """Answers to referrals, by a user of the institution they went to."""

    def answer(referral_id: uuid.UUID, institution: str, decision: str, days: float) -> None:
        plan.commands.append(
            cmd.AnswerReferral(
                command_id=ids.next(),
                actor=INSTITUTION_USERS[institution],
                at=now,
                occurred_at=clock.after(days),
                referral_id=referral_id,
                institution=institution,
                decision=ReferralDecision(decision),
            )
        )

    return answer


class _Ids:
    """Deterministic ids for one demo case, so a second load is recognised and skipped."""

    def __init__(self, index: int) -> None:
        self.case_id = uuid.uuid5(DEMO_NAMESPACE, f"case-{index}")
        self._count = 0

    def next(self) -> uuid.UUID:
        self._count += 1
        return uuid.uuid5(self.case_id, f"command-{self._count}")


async def _patiently(send: Callable[[], Awaitable[CommandResult]]) -> CommandResult:
    """Send until answered: a slow machine makes commands pend, and resending is safe."""
    for _ in range(30):
        try:
            return await send()
        except CommandPending:
            await asyncio.sleep(1)
    return await send()


async def load_demo(
    commands: CaseCommands,
    exists: Callable[[uuid.UUID], bool],
    *,
    now: datetime | None = None,
    concurrency: int = 32,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Open every demo case not already there and replay its path."""
    plans = build_plans(now or datetime.now(UTC))
    gate = asyncio.Semaphore(concurrency)
    counts = {"opened": 0, "skipped": 0, "commands": 0}

    async def load(plan: DemoPlan) -> None:
        async with gate:
            if exists(plan.opening.case_id):
                counts["skipped"] += 1
                return
            try:
                await _patiently(lambda: commands.open(plan.opening))
            except CommandRefused:
                counts["skipped"] += 1
                return
            for command in plan.commands:
                await _patiently(partial(commands.send, plan.opening.case_id, command))
            counts["opened"] += 1
            counts["commands"] += 1 + len(plan.commands)
            if progress:
                progress(1)

    await asyncio.gather(*(load(p) for p in plans))
    return DemoSummary(**counts)
