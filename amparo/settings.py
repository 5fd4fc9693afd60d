"""One place for configuration: `AMPARO_*` environment variables, validated at start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.visas import VisaPolicy


class SettingsError(RuntimeError):
    """A wrong setting: its message is one line naming the variable."""


class Settings(BaseSettings):
    """Runtime configuration; every command reads it the same way."""

    model_config = SettingsConfigDict(env_prefix="AMPARO_", extra="ignore")

    data_dir: Path = Path(".amparo")
    database_url: str | None = None
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "amparo-cases"
    api_url: str = "http://localhost:8000/api/v1"
    log_level: str = "INFO"
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$")
    # SLA defaults in days per step; a new case records the policy in force when it opens.
    sla_days: dict[str, int] = Field(default_factory=dict)
    stale_days: int = Field(default=30, ge=1)
    max_updates_per_run: int = Field(default=1000, ge=1, le=1900)
    # Visa reminders: days before expiry (JSON list), and from when supervisors hear too.
    visa_reminder_days: list[int] = Field(default_factory=lambda: [90, 60, 30, 7])
    visa_supervisor_within_days: int = Field(default=7, ge=0)
    # How long the API waits for a command's answer before a clear 503 (retry is safe).
    command_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    # Hex key of the blind index of names; unset: the key file in the data dir.
    index_key: str | None = Field(default=None, repr=False)
    # The master keys (JSON: current id and hex keys); unset: the key file in the data dir.
    master_keys: str | None = Field(default=None, repr=False)
    # Origins (the Temporal UI) whose browsers may call the codec endpoint (JSON list).
    codec_cors_origins: list[str] = Field(default_factory=lambda: ["http://localhost:8233"])
    # Email for notifications; unset host: notifications go to the in-app inbox only.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_from: str = Field(default="amparo@localhost", pattern=r"^[^@\s]+@[^@\s]+$")
    # The institution registry (TOML); unset: the demo registry shipped with Amparo.
    institutions_file: Path | None = None
    # The first wait before a failed referral delivery is tried again (doubling, to 30 min).
    delivery_backoff_seconds: float = Field(default=5.0, gt=0, le=3600)
    # The statistical report's days are this zone's (IANA name): a period's first day
    # starts at its midnight there. The seed country's by default.
    report_timezone: str = "America/Santo_Domingo"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("report_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone, e.g. America/Santo_Domingo") from None
        return value

    @field_validator("visa_reminder_days")
    @classmethod
    def _reminder_days(cls, value: list[int]) -> list[int]:
        if not value or any(not 1 <= days <= 3650 for days in value):
            raise ValueError("must be a non-empty list of days between 1 and 3650")
        return value

    @property
    def visa_policy(self) -> VisaPolicy:
        """The reminder policy a new visa records (a visa keeps the one it was registered with)."""
        return VisaPolicy(
            reminder_days=tuple(self.visa_reminder_days),
            supervisor_within_days=self.visa_supervisor_within_days,
        )

    @property
    def effective_database_url(self) -> str:
        """The configured database, or the SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'amparo.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, failing with one clear line on a wrong value."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "AMPARO_" + str(first["loc"][0]).upper() if first["loc"] else "AMPARO_*"
        raise SettingsError(f"invalid setting {name}: {first['msg']}") from None
