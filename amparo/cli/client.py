"""The CLI as an API client: a stored token, and problems turned into one-line errors."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from amparo.cli.common import fail
from amparo.settings import Settings


def credentials_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "credentials.json"


def save_token(settings: Settings, username: str, token: dict[str, Any]) -> Path:
    """Keep the token for later commands, readable by this user only."""
    path = credentials_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"api_url": settings.api_url, "username": username, **token}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(record, out)
    return path


def _token(settings: Settings) -> str:
    path = credentials_file(settings)
    if not path.exists():
        fail("not_authenticated: sign in first with `amparo login NAME`")
    record = json.loads(path.read_text())
    if datetime.fromisoformat(record["expires_at"]) <= datetime.now(UTC):
        fail("token_expired: sign in again with `amparo login NAME`")
    return str(record["access_token"])


class ApiClient:
    """Calls `/api/v1` as the signed-in user; any error ends the command with one line."""

    def __init__(self, settings: Settings, *, authenticated: bool = True) -> None:
        headers = {"Authorization": f"Bearer {_token(settings)}"} if authenticated else {}
        self._http = httpx.Client(base_url=settings.api_url, headers=headers, timeout=60)
        self._base = settings.api_url

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON."""
        return self.answer(method, path, **kwargs).json()

    def record(self, path: str, body: dict[str, Any]) -> Any:
        """POST something to record, with its own Idempotency-Key (a retry is applied once)."""
        return self.call("POST", path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})

    def text(self, method: str, path: str, **kwargs: Any) -> str:
        """The answer as text (a CSV or HTML report)."""
        return self.answer(method, path, **kwargs).text

    def answer(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A successful answer, or the command ends with the problem's one line."""
        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            fail(f"api_unreachable: {self._base} ({type(error).__name__}); is `amparo dev` up?")
        if answer.is_success:
            return answer
        try:
            problem = answer.json()
            fail(f"{problem['code']}: {problem['detail']}")
        except (ValueError, KeyError, TypeError):
            fail(f"http_{answer.status_code}: {answer.text[:200]}")
