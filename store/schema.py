"""The tables, and how an `Event` maps to a row of `events`.

`events` is append-only; `cases` and `case_steps` are the inline case projection
(with `caseworker_load` and `caseworker_deadlines`, the workload's);
`projection_tracking` records how far projections that run apart from the append got.
`users`, `tokens` and `login_failures` are the user directory (`amparo.users`);
`notifications` is the in-app inbox (`store.notifications`); `visas` the visa projection
(`store.visas`); `referrals` the referral projection (`store.referrals`); `proceeding_events` the
proceedings' streams, with their projection (`store.proceedings`); `identified_victims`
the statistics' view of each person (`store.victim_statistics`).
`migrations/versions` creates exactly this (a test compares them): change both together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import RowMapping

from domain import Event
from domain.personal import Sealer, sealed
from store.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only gives a monotonic, never-reused rowid to `INTEGER PRIMARY KEY AUTOINCREMENT`.
POSITION = BigInteger().with_variant(Integer(), "sqlite")
DOCUMENT = JSON().with_variant(JSONB(), "postgresql")
NAME = String(128)
CODE = String(32)

events = Table(
    "events",
    metadata,
    Column("position", POSITION, Identity(), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("case_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("data", DOCUMENT, nullable=False),
    Column("actor", NAME, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    UniqueConstraint("case_id", "version"),
    sqlite_autoincrement=True,
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("status", CODE, nullable=False),
    Column("crime_type", CODE, nullable=False),
    Column("assigned_to", NAME),
    Column("institution", NAME),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    Column("closed_reason", String(64)),
    Column("last_event_at", UTCDateTime, nullable=False),
    Column("overdue", Boolean, nullable=False),
    Column("open_steps", Integer, nullable=False),
    Column("next_due_at", UTCDateTime),
    Column("identification_outcome", CODE),
    # The whole CaseState, so the next events fold without reading the stream.
    Column("state", DOCUMENT, nullable=False),
    Index(None, "status", "opened_at", "case_id"),
    Index(None, "assigned_to", "opened_at", "case_id"),
    Index(None, "overdue", "opened_at", "case_id"),
    Index(None, "crime_type"),
    Index(None, "opened_at", "case_id"),
    # The supervisor's board and workload, from the index alone: cases with something
    # overdue; each caseworker's open cases and steps.
    Index(None, "institution", "next_due_at", "status", "assigned_to", "case_id"),
    Index(  # named: the convention's name is longer than PostgreSQL's 63 characters
        "ix_cases_caseworker_load",
        *("institution", "assigned_to", "status", "open_steps", "next_due_at", "case_id"),
    ),
)

case_steps = Table(
    "case_steps",
    metadata,
    Column("case_id", Uuid, ForeignKey("cases.case_id", ondelete="CASCADE"), primary_key=True),
    Column("step", CODE, primary_key=True),
    Column("state", CODE, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("overdue", Boolean, nullable=False),
    Column("overdue_since", UTCDateTime),
    Column("escalated", Boolean, nullable=False),
    Column("acknowledged", Boolean, nullable=False),
    Column("institution", NAME),
    Column("referral_id", Uuid),
    Column("outcome", CODE),
    # When a referred/in-progress step turns stale (domain.supervision.stale_since).
    Column("stale_at", UTCDateTime),
    Index(None, "case_id", "state", "due_at", "stale_at", "step"),  # a few cases' steps
    Index(None, "overdue", "due_at"),
    # The board walks these in `since` order and checks each row's case.
    Index(None, "due_at", "case_id", "step", "state"),
    Index(None, "stale_at", "case_id", "step", "state"),
    Index(None, "step", "due_at", "case_id", "state"),
    Index(None, "step", "stale_at", "case_id", "state"),
)

# The workload (`store.workload`), kept by the case projection in the append's transaction:
# each caseworker's open cases and open steps, and the due date of each open step of an
# open case (the overdue ones are those due by the time asked, so they are counted then).
caseworker_load = Table(
    "caseworker_load",
    metadata,
    Column("institution", NAME, primary_key=True),
    Column("caseworker", NAME, primary_key=True),
    Column("open_cases", Integer, nullable=False),
    Column("open_steps", Integer, nullable=False),
)

caseworker_deadlines = Table(
    "caseworker_deadlines",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("step", CODE, primary_key=True),
    Column("institution", NAME, nullable=False),
    Column("caseworker", NAME, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Index(None, "institution", "due_at", "caseworker"),  # the overdue, from the index alone
)

projection_tracking = Table(
    "projection_tracking",
    metadata,
    Column("name", NAME, primary_key=True),
    Column("position", BigInteger, nullable=False),
)

USERNAME = String(64)

users = Table(
    "users",
    metadata,
    Column("username", USERNAME, primary_key=True),
    Column("role", String(16), nullable=False),
    Column("institution", String(64)),
    Column("language", String(8), nullable=False, default="es"),
    Column("password_hash", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("email", String(254)),  # where notifications are emailed; none: inbox only
)

# Only the SHA-256 of a bearer token is kept: a leaked table cannot be replayed as logins.
tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", USERNAME, ForeignKey("users.username"), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    Index(None, "username"),
)

# Keyed by the name tried, not a foreign key: unknown names are throttled like known ones,
# so the throttle does not reveal which users exist.
login_failures = Table(
    "login_failures",
    metadata,
    Column("username", USERNAME, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UTCDateTime, nullable=False),
)


# Deliveries for a case (notifications, referrals) that keep failing: the board's
# `delivery_failing`, written by the delivering activity, removed when it succeeds.
delivery_failures = Table(
    "delivery_failures",
    metadata,
    Column("delivery_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False),
    Column("kind", CODE, nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", String(200), nullable=False),
    Index(None, "case_id"),
    Index(None, "since", "case_id"),  # the board walks them in this order
)


# The blind index of names (see store/person_index.py): keyed digests, never a name.
person_index = Table(
    "person_index",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("kind", String(8), primary_key=True),  # "token" or "identity"
    Column("digest", String(64), primary_key=True),
    Index(None, "kind", "digest"),
)


# One row per notification and recipient: the primary key is what makes delivering the
# same notification again a no-op. Only ids, codes and dates: never a person's data.
notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", Uuid, primary_key=True),
    Column("recipient", USERNAME, primary_key=True),
    Column("case_id", Uuid),
    Column("kind", CODE, nullable=False),
    Column("params", DOCUMENT, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime),
    Column("email_sent_at", UTCDateTime),
    Index(None, "recipient", "read_at", "created_at"),
)


# The visa projection (store/visas.py): dates and states for reminders and the board.
# Never the visa number: it is personal data, kept only in the events and the case state.
visas = Table(
    "visas",
    metadata,
    Column("visa_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False),
    Column("kind", CODE, nullable=False),
    Column("state", CODE, nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("expires_on", Date, nullable=False),
    Column("renewals", Integer, nullable=False),
    Column("last_reminder_days", Integer),  # of the current cycle; none sent yet: NULL
    Column("expired_at", UTCDateTime),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "state", "expires_on"),  # "active visas expiring before …"
    Index(None, "case_id"),
)


# The referral projection (store/referrals.py): one row per referral, for the institutions'
# lists and the case screens. Ids, codes and dates only: what the institution is told about
# the person is built from the case state when an allowed user reads it.
referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False),
    Column("step", CODE, nullable=False),
    Column("institution", NAME, nullable=False),
    Column("state", CODE, nullable=False),
    Column("channel", CODE),
    Column("overridden", Boolean, nullable=False),  # sent on a supervisor's consent override
    Column("referred_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("answered_at", UTCDateTime),
    Column("decision", CODE),
    Column("reference", NAME),
    Column("redirected_to", Uuid),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "institution", "state", "referred_at"),  # an institution's queue
    Index(None, "case_id"),
)

# Signed requests from institutions already taken (a digest of the signature): a replay
# within the signature's tolerance is refused. Rows older than the tolerance are pruned.
inbound_signatures = Table(
    "inbound_signatures",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
    Index(None, "seen_at"),
)


# Who read a person's data, and every failed sign-in (store/access_log.py): append-only.
access_log = Table(
    "access_log",
    metadata,
    Column("entry_id", POSITION, Identity(), primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("username", USERNAME, nullable=False),  # the name tried, for a failed sign-in
    Column("kind", CODE, nullable=False),  # e.g. "case_read", "login_failed"
    Column("case_id", Uuid),
    Column("path", String(200)),
    Index(None, "case_id", "at"),
    Index(None, "kind", "at"),
)

# Each person's data key (one per case), wrapped by a master key: personal fields in the
# events and projections are sealed with it. Erasing the person destroys it (wrapped_key
# NULL): the fields are unreadable everywhere, while the rest of the case stays.
data_keys = Table(
    "data_keys",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("master_key_id", String(32), nullable=False),
    Column("wrapped_key", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
    Column("erased_at", UTCDateTime),
)


# The proceedings' own streams (domain/proceedings.py): append-only like `events`, with
# the same columns, keyed by proceeding. No person's data: imputed persons are counts
# with sex and nationality, victims are case ids.
proceeding_events = Table(
    "proceeding_events",
    metadata,
    Column("position", POSITION, Identity(), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("proceeding_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("data", DOCUMENT, nullable=False),
    Column("actor", NAME, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    UniqueConstraint("proceeding_id", "version"),
    sqlite_autoincrement=True,
)

# The proceedings projection (store/proceedings.py): one row per proceeding with the dates
# the report's indicators count; its victims; and one row per imputed person.
proceedings = Table(
    "proceedings",
    metadata,
    Column("proceeding_id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("crime_type", CODE, nullable=False),
    Column("stage", CODE, nullable=False),
    Column("reference", String(64)),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("prosecuted_at", UTCDateTime),
    Column("ended_at", UTCDateTime),  # sentenced or archived
    Column("verdict", CODE),
    Column("convicted", Integer, nullable=False),
    Column("imputed", Integer, nullable=False),
    Column("archive_reason", CODE),
    Column("victims", Integer, nullable=False),
    Column("last_event_at", UTCDateTime, nullable=False),
    Index(None, "opened_at"),
    Index(None, "prosecuted_at"),
    Index(None, "ended_at"),
)

proceeding_victims = Table(
    "proceeding_victims",
    metadata,
    Column("proceeding_id", Uuid, primary_key=True),
    Column("case_id", Uuid, primary_key=True),
    Index(None, "case_id"),
)

proceeding_imputations = Table(
    "proceeding_imputations",
    metadata,
    Column("proceeding_id", Uuid, primary_key=True),
    Column("seq", Integer, primary_key=True),  # 1, 2, … per proceeding
    Column("crime_type", CODE, nullable=False),
    Column("imputed_at", UTCDateTime, nullable=False),
    Column("sex", CODE, nullable=False),
    Column("nationality", String(2)),
    Index(None, "imputed_at"),
)

# Every person a case protects, as statistics see them (store/victim_statistics.py): the
# identification's outcome and date, and the non-identifying profile (sex, age group,
# nationality, HTCDS context), all in clear in the events, so an erasure changes nothing.
identified_victims = Table(
    "identified_victims",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("crime_type", CODE, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("outcome", CODE),  # None until identification completes
    Column("identified_at", UTCDateTime),
    Column("sex", CODE, nullable=False),
    Column("age_group", CODE),
    Column("nationality", String(2), nullable=False),
    Column("exploitation_types", DOCUMENT, nullable=False),  # list of codes
    Column("means_of_control", DOCUMENT, nullable=False),
    Column("recruiter_relation", CODE),
    Column("labour_industry", CODE),
    Column("country_of_exploitation", String(2)),
    Column("is_abduction", Boolean),
    Index(None, "identified_at"),
)


def event_row(event: Event, sealer: Sealer | None = None) -> dict[str, Any]:
    """The `events` columns of `event` (the position is the database's to give), its
    personal fields sealed by `sealer` (the case's).

    `data` is already JSON text (`Event.data_json`, serialised by pydantic in half the
    time): bind it as it is, not through the JSON column type, which would encode it again.
    """
    context = sealed(sealer) if sealer is not None else None
    return {
        "event_id": event.event_id,
        "case_id": event.case_id,
        "version": event.version,
        "type": event.type,
        "data": event.data.model_dump_json(exclude={"type"}, context=context),
        "actor": event.actor,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
    }


def stored_event(row: RowMapping | dict[str, Any], opener: Sealer | None = None) -> Event:
    """The event a row of `events` holds (`Event.from_stored`, in one validation call),
    its personal fields opened by `opener` (the case's).

    `data` as read (a dict), or its payload model already validated by the caller.
    """
    data = row["data"]
    return Event.model_validate(
        {
            "event_id": row["event_id"],
            "case_id": row["case_id"],
            "version": row["version"],
            "data": {**data, "type": row["type"]} if isinstance(data, dict) else data,
            "occurred_at": row["occurred_at"],
            "recorded_at": row["recorded_at"],
            "actor": row["actor"],
        },
        context=sealed(opener) if opener is not None else None,
    )
