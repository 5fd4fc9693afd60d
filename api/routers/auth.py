"""Signing in: an OAuth2 password form in, an expiring, revocable bearer token out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from amparo.users import LoginFailed, LoginThrottled
from api.audit import record_failed_sign_in
from api.deps import CurrentUser, ServicesDep
from api.problems import Problem, ProblemError
from api.routers.codec import CODEC_ROLES, set_codec_cookie
from api.schemas import Me, TokenOut

router = APIRouter(tags=["auth"])
_ERRORS = {
    code: {"model": Problem, "content": {"application/problem+json": {}}}
    for code in (401, 422, 429)
}


@router.post("/auth/token", response_model=TokenOut, responses=_ERRORS)  # type: ignore[arg-type]
async def issue_token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], services: ServicesDep, response: Response
) -> TokenOut:
    """Exchange a username and password for a bearer token (repeated failures slow down).

    A supervisor or admin signing in from a browser (the API docs' Authorize) also gets the
    token as an HttpOnly cookie for the codec routes only, so the Temporal UI, set to
    include cross-origin credentials, can show them decrypted payloads."""
    try:
        user = await run_in_threadpool(services.users.authenticate, form.username, form.password)
    except LoginThrottled as throttled:
        await record_failed_sign_in(services, form.username)
        raise ProblemError(
            429, throttled.code, f"too many failed sign-ins; retry in {throttled.retry_after} s"
        ) from None
    except LoginFailed as failed:
        await record_failed_sign_in(services, form.username)
        raise ProblemError(401, failed.code, "wrong username or password") from None
    issued = await run_in_threadpool(services.users.issue_token, user)
    if user.role in CODEC_ROLES:
        set_codec_cookie(response, issued.access_token, issued.expires_at)
    return TokenOut(access_token=issued.access_token, expires_at=issued.expires_at)


@router.get("/me", response_model=Me, responses=_ERRORS)  # type: ignore[arg-type]
async def me(user: CurrentUser) -> Me:
    """Who the token belongs to."""
    return Me(
        username=user.username,
        role=user.role.value,
        institution=user.institution,
        language=user.language,
    )
