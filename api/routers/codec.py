"""Temporal's codec server protocol: the Temporal UI and CLI show decrypted payloads to
supervisors and administrators, and to nobody else.

`POST /codec/decode` and `/codec/encode` take and answer `{"payloads": [{"metadata":
{key: base64}, "data": base64}]}` (Temporal's `Payloads` in protobuf JSON). The UI calls
them from the browser, so these two routes (and only these) answer CORS for the origins
in `AMPARO_CODEC_CORS_ORIGINS`; each call needs a supervisor's or an admin's bearer token
(`temporal workflow show --codec-endpoint .../api/v1/codec --codec-auth "Bearer <token>"`),
or, from a browser, the same token in the HttpOnly cookie `amparo_codec` that signing in
as a supervisor or admin sets for these routes only (the Temporal UI sends it when its
codec settings include cross-origin credentials).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordBearer
from google.protobuf import json_format
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payloads

from amparo.codec import EncryptionCodec, PayloadDecryptionError
from amparo.keys import KeyMaterialError
from amparo.users import Role, User
from api.deps import ServicesDep
from api.problems import PROBLEM_RESPONSES, ProblemError
from store.access_log import AccessKind

ROUTES = ("/codec/decode", "/codec/encode")
MAX_PAYLOADS = 1000
# 400: payloads that do not decode (altered, bad base64), as the codec protocol answers.
ERRORS = PROBLEM_RESPONSES | {400: PROBLEM_RESPONSES[422]}
router = APIRouter(prefix="/codec", tags=["codec"], responses=ERRORS)
CODEC_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
COOKIE = "amparo_codec"
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def set_codec_cookie(response: Response, token: str, expires_at: datetime) -> None:
    """The token as a cookie the browser sends to the codec routes only (same site)."""
    seconds = max(0, int((expires_at - datetime.now(UTC)).total_seconds()))
    response.set_cookie(
        COOKIE, token, max_age=seconds, path="/api/v1/codec", httponly=True, samesite="lax"
    )


async def _codec_user(
    request: Request, services: ServicesDep, bearer: Annotated[str | None, Depends(_bearer)]
) -> User:
    """A supervisor or admin, by bearer token or by the codec cookie."""
    token = bearer or request.cookies.get(COOKIE)
    if not token:
        raise ProblemError(401, "not_authenticated", "sign in and send a bearer token")
    user = await run_in_threadpool(services.users.resolve, token)
    if user is None:
        raise ProblemError(401, "invalid_token", "the token is unknown, expired or revoked")
    if user.role not in CODEC_ROLES:
        raise ProblemError(403, "forbidden", f"a {user.role} may not do this")
    return user


CodecUser = Annotated[User, Depends(_codec_user)]


class PayloadJson(BaseModel):
    """One Temporal payload in protobuf JSON: metadata values and data in base64."""

    metadata: dict[str, str] = Field(default_factory=dict)
    data: str = ""


class PayloadsJson(BaseModel):
    """Temporal's `Payloads` in protobuf JSON."""

    payloads: list[PayloadJson] = Field(default_factory=list, max_length=MAX_PAYLOADS)


@router.post("/decode", response_model=PayloadsJson)
async def decode(body: PayloadsJson, user: CodecUser, services: ServicesDep) -> dict[str, Any]:
    """Decrypt payloads (those not encrypted come back unchanged)."""
    codec = _codec(services)
    payloads = _parse(body)
    try:
        decoded = await codec.decode(payloads.payloads)
    except (PayloadDecryptionError, KeyMaterialError) as error:
        raise ProblemError(400, "payload_not_decodable", str(error)) from None
    # Payloads hold personal data and name no case here: who decoded, and when, is kept.
    at = datetime.now(UTC)
    log = services.access_log
    await run_in_threadpool(
        lambda: log.record(user.username, AccessKind.PAYLOADS_DECODED, path="/codec/decode", at=at)
    )
    return _json(decoded)


@router.post("/encode", response_model=PayloadsJson)
async def encode(body: PayloadsJson, user: CodecUser, services: ServicesDep) -> dict[str, Any]:
    """Encrypt payloads with the current key, as Amparo's own clients do."""
    return _json(await _codec(services).encode(_parse(body).payloads))


def _codec(services: ServicesDep) -> EncryptionCodec:
    if services.keyring is None:
        raise ProblemError(503, "codec_unavailable", "this API runs without the master keys")
    return EncryptionCodec(services.keyring)


def _parse(body: PayloadsJson) -> Payloads:
    """Through protobuf's own JSON parser: standard and URL-safe base64, as the protocol says."""
    try:
        return json_format.ParseDict(body.model_dump(), Payloads())
    except json_format.ParseError as error:
        detail = str(error).splitlines()[0][:200]
        raise ProblemError(400, "payload_not_decodable", f"payloads: {detail}") from None


def _json(payloads: list[Any]) -> dict[str, Any]:
    answer: dict[str, Any] = json_format.MessageToDict(Payloads(payloads=payloads))
    return {"payloads": answer.get("payloads", [])}


class CodecCors:
    """CORS for the codec routes only (the Temporal UI's origins, preflight included);
    every other route stays same-origin.

    The origins are the running API's settings (`AMPARO_CODEC_CORS_ORIGINS`), read on the
    first codec request: the app can be built before its services are.
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self._app = app
        self._paths = {prefix + route for route in ROUTES}
        self._cors: CORSMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self._paths:
            await self._app(scope, receive, send)
            return
        if self._cors is None:
            origins = scope["app"].state.services.settings.codec_cors_origins
            self._cors = CORSMiddleware(
                self._app,
                allow_origins=list(origins),
                allow_methods=["POST"],
                allow_headers=["Authorization", "Content-Type", "X-Namespace"],
                allow_credentials=True,
                max_age=600,
            )
        await self._cors(scope, receive, send)
