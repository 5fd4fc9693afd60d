"""The user directory on SQLite and PostgreSQL: users, sign-in, throttling and tokens."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from amparo.demo_users import DEMO_USERS, ensure_demo_users
from amparo.users import (
    InvalidUser,
    LoginFailed,
    LoginThrottled,
    Role,
    UnknownUser,
    User,
    UserDirectory,
    UserExists,
    throttle_wait,
)
from store.schema import login_failures, tokens, users

PASSWORD = "correct horse battery"
START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


class CountingHasher(PasswordHasher):
    """Cheap parameters (tests hash a lot), and a count of password checks."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def directory(engine: Engine, clock: Clock, hasher: CountingHasher) -> UserDirectory:
    return UserDirectory(engine, clock=clock, hasher=hasher)


def add_ana(directory: UserDirectory) -> User:
    return directory.add(
        "ana.martinez", role="caseworker", password=PASSWORD, institution="procuraduria-pett"
    )


def rows(engine: Engine, table: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(table)).mappings()]


# --- users ------------------------------------------------------------------------------


def test_added_users_are_read_back(directory: UserDirectory) -> None:
    ana = add_ana(directory)
    admin = directory.add("admin", role=Role.ADMIN, password=PASSWORD, language="en")

    assert ana == User(
        username="ana.martinez",
        role=Role.CASEWORKER,
        institution="procuraduria-pett",
        language="es",
        disabled=False,
    )
    assert directory.get("ana.martinez") == ana
    assert directory.get("admin") == admin
    assert admin.institution is None
    assert admin.language == "en"
    assert directory.get("nobody") is None
    assert directory.list() == [admin, ana]


def test_a_taken_username_is_refused(directory: UserDirectory) -> None:
    add_ana(directory)
    with pytest.raises(UserExists) as refused:
        directory.add("ana.martinez", role="admin", password="another password")
    assert refused.value.code == "user_exists"
    assert directory.get("ana.martinez").role == Role.CASEWORKER  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("username", "role", "institution", "language", "password"),
    [
        ("ana", "caseworker", None, "es", PASSWORD),
        ("ana", "supervisor", None, "es", PASSWORD),
        ("ana", "institution", "", "es", PASSWORD),
        ("ana", "admin", "migracion", "es", PASSWORD),
        ("ana", "analyst", "migracion", "es", PASSWORD),
        ("ana", "boss", None, "es", PASSWORD),
        ("Ana", "admin", None, "es", PASSWORD),
        ("a", "admin", None, "es", PASSWORD),
        ("ana martinez", "admin", None, "es", PASSWORD),
        ("a" * 65, "admin", None, "es", PASSWORD),
        ("ana", "admin", None, "fr", PASSWORD),
        ("ana", "admin", None, "es", "123456789"),
    ],
)
def test_invalid_users_are_refused_and_nothing_is_stored(
    directory: UserDirectory,
    username: str,
    role: str,
    institution: str | None,
    language: str,
    password: str,
) -> None:
    with pytest.raises(InvalidUser) as refused:
        directory.add(
            username, role=role, password=password, institution=institution, language=language
        )
    assert refused.value.code == "invalid_user"
    assert refused.value.detail
    assert directory.list() == []


def test_the_demo_users_are_created_once(directory: UserDirectory) -> None:
    first = ensure_demo_users(directory)
    again = ensure_demo_users(directory)

    assert first == again == list(DEMO_USERS)
    assert len(directory.list()) == len(DEMO_USERS)
    assert {user.role for user in directory.list()} == set(Role)
    name, _role, _institution, password = DEMO_USERS[0]
    assert len(password) >= 10
    assert directory.authenticate(name, password).username == name


# --- signing in -------------------------------------------------------------------------


def test_the_right_password_signs_in(directory: UserDirectory) -> None:
    ana = add_ana(directory)
    assert directory.authenticate("ana.martinez", PASSWORD) == ana
    assert directory.authenticate(" Ana.Martinez ", PASSWORD) == ana  # as a phone types it


@pytest.mark.parametrize(
    ("username", "password", "disable"),
    [
        ("ana.martinez", "wrong password", False),
        ("nobody", PASSWORD, False),
        ("ana.martinez", PASSWORD, True),
        ("x" * 500, PASSWORD, False),
    ],
    ids=["wrong-password", "unknown-user", "disabled-user", "impossible-name"],
)
def test_every_failed_sign_in_looks_the_same(
    directory: UserDirectory, hasher: CountingHasher, username: str, password: str, disable: bool
) -> None:
    add_ana(directory)
    if disable:
        directory.disable("ana.martinez")
    with pytest.raises(LoginFailed) as failed:
        directory.authenticate(username, password)
    assert failed.value.code == "invalid_credentials"
    assert str(failed.value) == "invalid_credentials: wrong username or password"
    assert hasher.verified == 1  # a hash is checked even for an unknown user: same timing


def test_repeated_failures_make_each_next_attempt_wait_longer(
    directory: UserDirectory, clock: Clock, hasher: CountingHasher
) -> None:
    add_ana(directory)
    for _ in range(5):
        with pytest.raises(LoginFailed):
            directory.authenticate("ana.martinez", "wrong password")
    for wait in (1, 2, 4, 8):
        checked = hasher.verified
        with pytest.raises(LoginThrottled) as throttled:
            directory.authenticate("ana.martinez", PASSWORD)  # even the right password
        assert throttled.value.code == "login_throttled"
        assert throttled.value.retry_after == wait
        assert hasher.verified == checked  # refused without checking the password
        clock.advance(seconds=wait)
        with pytest.raises(LoginFailed):
            directory.authenticate("ana.martinez", "wrong password")


def test_a_success_resets_the_count(directory: UserDirectory, clock: Clock) -> None:
    add_ana(directory)
    for _ in range(6):
        with pytest.raises(LoginFailed):
            directory.authenticate("ana.martinez", "wrong password")
        clock.advance(seconds=1)
    clock.advance(seconds=1)
    directory.authenticate("ana.martinez", PASSWORD)

    for _ in range(5):  # five free failures again
        with pytest.raises(LoginFailed):
            directory.authenticate("ana.martinez", "wrong password")
    with pytest.raises(LoginThrottled):
        directory.authenticate("ana.martinez", PASSWORD)


def test_unknown_names_are_throttled_like_known_ones(directory: UserDirectory) -> None:
    for _ in range(5):
        with pytest.raises(LoginFailed):
            directory.authenticate("nobody", "wrong password")
    with pytest.raises(LoginThrottled) as throttled:
        directory.authenticate("nobody", "wrong password")
    assert throttled.value.retry_after == 1
    assert rows(directory._engine, login_failures)[0]["failures"] == 5


def test_the_wait_doubles_up_to_fifteen_minutes() -> None:
    assert [throttle_wait(n).total_seconds() for n in range(7)] == [0, 0, 0, 0, 0, 1, 2]
    assert throttle_wait(14) == timedelta(seconds=512)
    assert throttle_wait(15) == throttle_wait(10_000) == timedelta(minutes=15)


def test_a_hash_with_old_parameters_is_upgraded_on_sign_in(
    engine: Engine, directory: UserDirectory, clock: Clock
) -> None:
    add_ana(directory)
    stronger = UserDirectory(engine, clock=clock, hasher=CountingHasher(time_cost=2))

    assert stronger.authenticate("ana.martinez", PASSWORD).username == "ana.martinez"
    assert ",t=2," in rows(engine, users)[0]["password_hash"]
    assert stronger.authenticate("ana.martinez", PASSWORD).username == "ana.martinez"


# --- tokens -----------------------------------------------------------------------------


def test_a_token_resolves_to_its_user_until_it_expires(
    directory: UserDirectory, clock: Clock
) -> None:
    ana = add_ana(directory)
    issued = directory.issue_token(ana)

    assert issued.expires_at == START + timedelta(hours=8)
    assert directory.resolve(issued.access_token) == ana
    clock.advance(hours=8, seconds=-1)
    assert directory.resolve(issued.access_token) == ana
    clock.advance(seconds=1)
    assert directory.resolve(issued.access_token) is None


def test_unknown_tokens_resolve_to_no_one(directory: UserDirectory) -> None:
    add_ana(directory)
    assert directory.resolve("not-a-token") is None
    assert directory.resolve("") is None


def test_a_revoked_token_stops_working_and_others_do_not(directory: UserDirectory) -> None:
    ana = add_ana(directory)
    phone, laptop = directory.issue_token(ana), directory.issue_token(ana)

    directory.revoke(phone.access_token)
    directory.revoke(phone.access_token)
    directory.revoke("never-issued")

    assert directory.resolve(phone.access_token) is None
    assert directory.resolve(laptop.access_token) == ana


def test_disabling_a_user_ends_their_sessions_at_once(
    engine: Engine, directory: UserDirectory, clock: Clock
) -> None:
    ana = add_ana(directory)
    sofia = directory.add(
        "sofia.reyes", role="supervisor", password=PASSWORD, institution="procuraduria-pett"
    )
    sessions = [directory.issue_token(ana) for _ in range(2)]
    other = directory.issue_token(sofia)
    clock.advance(minutes=5)

    directory.disable("ana.martinez")

    assert [directory.resolve(s.access_token) for s in sessions] == [None, None]
    assert directory.resolve(other.access_token) == sofia
    assert directory.get("ana.martinez").disabled  # type: ignore[union-attr]
    revoked = {row["username"]: row["revoked_at"] for row in rows(engine, tokens)}
    assert revoked == {"ana.martinez": clock.now, "sofia.reyes": None}


def test_disabling_an_unknown_user_is_refused(directory: UserDirectory) -> None:
    with pytest.raises(UnknownUser) as refused:
        directory.disable("nobody")
    assert refused.value.code == "unknown_user"


def test_neither_passwords_nor_tokens_are_stored_in_clear(
    engine: Engine, directory: UserDirectory
) -> None:
    issued = directory.issue_token(add_ana(directory))

    stored = repr(rows(engine, users) + rows(engine, tokens))
    assert PASSWORD not in stored
    assert issued.access_token not in stored
    assert rows(engine, users)[0]["password_hash"].startswith("$argon2id$")
    digest = hashlib.sha256(issued.access_token.encode()).hexdigest()
    assert rows(engine, tokens)[0]["token_hash"] == digest
