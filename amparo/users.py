"""The user directory: who may sign in, with which role, and the bearer tokens they hold.

Plain synchronous SQLAlchemy Core (the API calls it from a threadpool). Passwords are
kept as argon2id hashes and tokens as SHA-256 digests, so a copy of the database gives
an attacker neither. Every failed sign-in raises the same `LoginFailed`, whatever the
reason, so the answers do not reveal which usernames exist or are disabled.
"""

from __future__ import annotations

import builtins
import hashlib
import math
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any, ClassVar

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, Engine, RowMapping, Select, delete, select, update

from store.db import insert
from store.schema import login_failures, tokens, users

USERNAME = re.compile(r"[a-z0-9._-]{2,64}")
# Deliberately loose (one @, a dot in the domain, no spaces): the mail server is the judge.
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
MAX_EMAIL_LENGTH = 254
MIN_PASSWORD_LENGTH = 10
LANGUAGES = ("es", "en")  # the languages the interfaces are translated into
FREE_FAILURES = 5  # consecutive failures before each further attempt has to wait
MAX_WAIT = timedelta(minutes=15)


class Role(StrEnum):
    """What a user may do (see CONTRACT.md, "Who uses it")."""

    CASEWORKER = "caseworker"
    SUPERVISOR = "supervisor"
    INSTITUTION = "institution"
    ANALYST = "analyst"
    ADMIN = "admin"


# These roles act for an institution and see only its cases or referrals; the others
# see across institutions (analysts only statistics), so an institution would mislead.
INSTITUTION_ROLES = frozenset({Role.CASEWORKER, Role.SUPERVISOR, Role.INSTITUTION})


class User(BaseModel):
    """A user as the rest of Amparo sees them: never with the password hash."""

    model_config = ConfigDict(frozen=True)

    username: str
    role: Role
    institution: str | None
    language: str
    disabled: bool
    email: str | None = None  # where notifications are emailed; None: the inbox only


class IssuedToken(BaseModel):
    """A bearer token as handed to its user: the only time it exists in clear."""

    model_config = ConfigDict(frozen=True)

    access_token: str
    expires_at: datetime


class UserError(Exception):
    """A refused user operation; `code` is stable, so interfaces can translate it."""

    code: ClassVar[str] = "user_error"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{self.code}: {detail}")
        self.detail = detail


class UserExists(UserError):
    code = "user_exists"


class UnknownUser(UserError):
    code = "unknown_user"


class InvalidUser(UserError):
    """Bad username, role, institution, language or password: `detail` says which."""

    code = "invalid_user"


class LoginFailed(UserError):
    """Unknown user, wrong password or disabled user: deliberately indistinguishable."""

    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("wrong username or password")


class LoginThrottled(UserError):
    """Too many consecutive failures for this username: try again in `retry_after` s."""

    code = "login_throttled"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; try again in {retry_after} s")
        self.retry_after = retry_after


def validate(username: str, role: str, institution: str | None, language: str) -> Role:
    """The user's `Role`, or `InvalidUser` saying what is wrong."""
    if not USERNAME.fullmatch(username):
        raise InvalidUser(f"username {username!r} must be 2-64 of a-z 0-9 . _ -")
    try:
        valid = Role(role)
    except ValueError:
        raise InvalidUser(f"unknown role {role!r} (one of {', '.join(Role)})") from None
    if valid in INSTITUTION_ROLES and not institution:
        raise InvalidUser(f"a {valid} user needs an institution")
    if valid not in INSTITUTION_ROLES and institution:
        raise InvalidUser(f"a {valid} user belongs to no institution")
    if language not in LANGUAGES:
        raise InvalidUser(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    return valid


def validate_email(email: str | None) -> None:
    """`InvalidUser` unless `email` is None or looks like an address."""
    if email is not None and (len(email) > MAX_EMAIL_LENGTH or not EMAIL.fullmatch(email)):
        raise InvalidUser(f"email {email!r} does not look like an address")


def token_digest(token: str) -> str:
    """What `tokens` stores: a fast hash is enough, the token has 256 random bits."""
    return hashlib.sha256(token.encode()).hexdigest()


def throttle_wait(failures: int) -> timedelta:
    """How long after the last failure the next attempt must wait (doubling, capped)."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - FREE_FAILURES, 20)), MAX_WAIT)


def _user(row: Mapping[Any, Any]) -> User:
    return User.model_validate(dict(row))  # extra columns (the hash) are ignored


class UserDirectory:
    """Users, their passwords and tokens, in the Amparo database."""

    def __init__(
        self,
        engine: Engine,
        *,
        token_ttl: timedelta = timedelta(hours=8),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._engine = engine
        self._token_ttl = token_ttl
        self._clock = clock
        self._hasher = hasher or PasswordHasher()

    def add(
        self,
        username: str,
        *,
        role: str,
        password: str,
        institution: str | None = None,
        language: str = "es",
        email: str | None = None,
    ) -> User:
        """Create a user; `InvalidUser` on bad input, `UserExists` if the name is taken."""
        valid_role = validate(username, role, institution, language)
        validate_email(email)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidUser(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
        row = {
            "username": username,
            "role": valid_role.value,
            "institution": institution,
            "language": language,
            "password_hash": self._hasher.hash(password),
            "disabled": False,
            "created_at": self._clock(),
            "email": email,
        }
        with self._engine.begin() as conn:
            # DO NOTHING rather than catching IntegrityError, which aborts a PG transaction;
            # RETURNING because psycopg's rowcount cannot be trusted here.
            added = conn.execute(
                insert(conn, users).values(row).on_conflict_do_nothing().returning(users.c.username)
            ).first()
        if added is None:
            raise UserExists(f"user {username!r} already exists")
        return _user(row)

    def get(self, username: str) -> User | None:
        """The user named `username`, disabled or not; None if there is none."""
        row = self._row(username)
        return _user(row) if row else None

    def list(self) -> builtins.list[User]:
        """Every user, by username."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).mappings()
            return [_user(row) for row in rows]

    def supervisors_of(self, institution: str) -> builtins.list[User]:
        """The active supervisors of `institution`, by username."""
        query = (
            select(users)
            .where(users.c.role == Role.SUPERVISOR.value, users.c.institution == institution)
            .where(users.c.disabled.is_(False))
            .order_by(users.c.username)
        )
        with self._engine.connect() as conn:
            return [_user(row) for row in conn.execute(query).mappings()]

    def disable(self, username: str) -> None:
        """Stop `username` from signing in, and end every session they hold right now."""
        with self._engine.begin() as conn:
            found = conn.scalar(
                update(users)
                .where(users.c.username == username)
                .values(disabled=True)
                .returning(users.c.username)
            )
            if found is None:
                raise UnknownUser(f"no user {username!r}")
            self._revoke_where(conn, tokens.c.username == username)

    def authenticate(self, username: str, password: str) -> User:
        """The user, if the password is theirs; `LoginFailed` or `LoginThrottled` if not.

        A throttled attempt is refused before the password is checked, so guessing
        gains nothing while the wait lasts. An unknown name still costs a hash check,
        so the answer's timing does not reveal whether the user exists either.
        """
        username = username.strip().lower()  # phones capitalise the first letter
        self._check_throttle(username)
        row = self._row(username) if USERNAME.fullmatch(username) else None
        stored = row["password_hash"] if row else self._dummy_hash
        if not self._verify(stored, password) or row is None or row["disabled"]:
            if USERNAME.fullmatch(username):  # other names cannot exist: nothing to count
                self._record_failure(username)
            raise LoginFailed()
        self._succeeded(username, stored, password)
        return _user(row)

    def issue_token(self, user: User) -> IssuedToken:
        """A new bearer token for `user`, valid for the directory's token TTL."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        issued = IssuedToken(access_token=token, expires_at=now + self._token_ttl)
        with self._engine.begin() as conn:  # the foreign key refuses an unknown user
            conn.execute(
                tokens.insert().values(
                    token_hash=token_digest(token),
                    username=user.username,
                    issued_at=now,
                    expires_at=issued.expires_at,
                )
            )
        return issued

    def resolve(self, token: str) -> User | None:
        """The user `token` signs in, or None if it is unknown, expired, revoked or the
        user is disabled: each request checks, so revoking takes effect at once."""
        query = (
            select(users)
            .join(tokens, tokens.c.username == users.c.username)
            .where(tokens.c.token_hash == token_digest(token))
            .where(tokens.c.revoked_at.is_(None), tokens.c.expires_at > self._clock())
            .where(users.c.disabled.is_(False))
        )
        row = self._first(query)
        return _user(row) if row else None

    def revoke(self, token: str) -> None:
        """End the session of `token` (signing out); unknown tokens are ignored."""
        with self._engine.begin() as conn:
            self._revoke_where(conn, tokens.c.token_hash == token_digest(token))

    @cached_property
    def _dummy_hash(self) -> str:
        """A hash with the same parameters as real ones, checked for unknown users."""
        return self._hasher.hash(secrets.token_urlsafe(16))

    def _row(self, username: str) -> RowMapping | None:
        return self._first(select(users).where(users.c.username == username))

    def _first(self, query: Select[Any]) -> RowMapping | None:
        with self._engine.connect() as conn:
            return conn.execute(query).mappings().first()

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except VerificationError:  # mismatch, or a hash argon2 cannot read
            return False

    def _revoke_where(self, conn: Connection, condition: Any) -> None:
        now = self._clock()
        conn.execute(
            update(tokens).where(condition, tokens.c.revoked_at.is_(None)).values(revoked_at=now)
        )

    def _check_throttle(self, username: str) -> None:
        row = self._first(select(login_failures).where(login_failures.c.username == username))
        if row is None:
            return
        left = row["last_failure_at"] + throttle_wait(row["failures"]) - self._clock()
        if left > timedelta(0):
            raise LoginThrottled(math.ceil(left.total_seconds()))

    def _record_failure(self, username: str) -> None:
        now = self._clock()
        with self._engine.begin() as conn:
            # One statement, so concurrent failures each count.
            conn.execute(
                insert(conn, login_failures)
                .values(username=username, failures=1, last_failure_at=now)
                .on_conflict_do_update(
                    index_elements=[login_failures.c.username],
                    set_={"failures": login_failures.c.failures + 1, "last_failure_at": now},
                )
            )

    def _succeeded(self, username: str, stored: str, password: str) -> None:
        """Reset the failure count, and upgrade the hash if the parameters have changed
        (hashed before the transaction: SQLite would hold its write lock meanwhile)."""
        rehashed = self._hasher.hash(password) if self._hasher.check_needs_rehash(stored) else None
        with self._engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.username == username))
            if rehashed:
                conn.execute(
                    update(users).where(users.c.username == username).values(password_hash=rehashed)
                )
