"""Referrals through the API: answers, signed answers, scope, consent, revoke, redirect,
and delivery to a real webhook server through the worker's retries."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx

from amparo.devstack import DevServer
from amparo.signing import SIGNATURE_HEADER, sign
from amparo.users import Role
from tests.api.conftest import (
    PASSWORD,
    TEST_REGISTRY,
    WEBHOOK_SECRET,
    Api,
    delivered,
    new_case,
    referral_of,
    running_api,
)
from tests.support.webhook_receiver import Receiver, serving

PROBLEM = "application/problem+json"


async def identified(api: Api, **changes: Any) -> str:
    """A case of ana's whose person is identified: its assistance steps are open."""
    async with api.client("ana") as ana:
        opened = await ana.post("/cases", json=new_case(**changes))
        assert opened.status_code == 201, opened.text
        case_id: str = opened.json()["case_id"]
        done = await ana.post(
            f"/cases/{case_id}/steps/identification",
            json={"action": "complete", "outcome": "confirmed_victim"},
        )
        assert done.status_code == 200, done.text
    return case_id


async def refer(api: Api, case_id: str, step: str = "shelter", to: str = "hogar-oblatas") -> str:
    async with api.client("ana") as ana:
        referred = await ana.post(
            f"/cases/{case_id}/steps/{step}", json={"action": "refer", "institution": to}
        )
    assert referred.status_code == 200, referred.text
    return referral_of(referred.json(), step)


async def step_state(api: Api, case_id: str, step: str) -> dict[str, Any]:
    async with api.client("ana") as ana:
        case = (await ana.get(f"/cases/{case_id}")).json()
    found: dict[str, Any] = next(s for s in case["steps"] if s["step"] == step)
    return found


async def events(api: Api, case_id: str) -> list[dict[str, Any]]:
    async with api.client("sofia") as sofia:
        listed: list[dict[str, Any]] = (await sofia.get(f"/cases/{case_id}/events")).json()
    return listed


def problem(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["code"] == code, answer.text


async def test_the_institution_accepts_then_completes_and_the_step_follows(api: Api) -> None:
    case_id = await identified(api)
    referral_id = await refer(api, case_id)
    await delivered(api, referral_id)
    async with api.client("hogar") as hogar:
        listed = (await hogar.get("/referrals")).json()["items"]
        (mine,) = [r for r in listed if r["referral_id"] == referral_id]
        assert mine["state"] == "delivered" and mine["channel"] == "inbox"
        # What the shelter needs to receive the person, and nothing more.
        assert mine["person"] == {
            "given_name": "Rosa",
            "family_name": "Peña",
            "sex": "female",
            "nationality": "VE",
            "languages": [],
        }
        assert mine["case_id"] is None
        accepted = await hogar.post(
            f"/referrals/{referral_id}/answer", json={"decision": "accepted", "reference": "H-7"}
        )
        assert accepted.status_code == 200, accepted.text
        assert (accepted.json()["state"], accepted.json()["reference"]) == ("accepted", "H-7")
        assert (await step_state(api, case_id, "shelter"))["state"] == "in_progress"
        completed = await hogar.post(
            f"/referrals/{referral_id}/answer", json={"decision": "completed"}
        )
        assert completed.json()["state"] == "completed"
        assert completed.json()["person"] is None  # final: no longer the shelter's to read
        assert (await step_state(api, case_id, "shelter"))["state"] == "completed"
        before = await events(api, case_id)
        again = await hogar.post(f"/referrals/{referral_id}/answer", json={"decision": "declined"})
        problem(again, 409, "referral_final")
    assert await events(api, case_id) == before
    types = [e["type"] for e in before]
    assert types[-4:] == ["ReferralAnswered", "StepStarted", "ReferralAnswered", "StepCompleted"]


async def test_a_declined_referral_puts_the_step_back_with_the_reason(api: Api) -> None:
    case_id = await identified(api)
    referral_id = await refer(api, case_id)
    async with api.client("hogar") as hogar:
        no_reason = await hogar.post(
            f"/referrals/{referral_id}/answer", json={"decision": "declined"}
        )
        problem(no_reason, 409, "reason_required")
        declined = await hogar.post(
            f"/referrals/{referral_id}/answer",
            json={"decision": "declined", "note": "no places until March"},
        )
        assert declined.status_code == 200, declined.text
    shelter = await step_state(api, case_id, "shelter")
    assert (shelter["state"], shelter["referral_id"]) == ("pending", None)
    async with api.client("ana") as ana:
        seen = (await ana.get(f"/referrals/{referral_id}")).json()
    assert (seen["state"], seen["reason"], seen["case_id"]) == (
        "declined",
        "no places until March",
        case_id,
    )


async def test_two_answers_at_once_exactly_one_wins(api: Api) -> None:
    api.users.add("hogar2", role=Role.INSTITUTION, password=PASSWORD, institution="hogar-oblatas")
    await api.sign_in("hogar2")
    case_id = await identified(api)
    referral_id = await refer(api, case_id)
    body = {"decision": "completed"}
    async with api.client("hogar") as one, api.client("hogar2") as two:
        answers = await asyncio.gather(
            one.post(f"/referrals/{referral_id}/answer", json=body),
            two.post(f"/referrals/{referral_id}/answer", json=body),
        )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    problem(next(a for a in answers if a.status_code == 409), 409, "referral_final")
    answered = [e for e in await events(api, case_id) if e["type"] == "ReferralAnswered"]
    assert len(answered) == 1


async def test_institutions_see_only_their_own_referrals(api: Api) -> None:
    case_id = await identified(api)
    theirs = await refer(api, case_id)
    async with api.client("refugio") as refugio:
        listed = (await refugio.get("/referrals")).json()["items"]
        assert theirs not in {r["referral_id"] for r in listed}
        problem(await refugio.get(f"/referrals/{theirs}"), 404, "referral_not_found")
        answer = await refugio.post(f"/referrals/{theirs}/answer", json={"decision": "accepted"})
        problem(answer, 404, "referral_not_found")
    async with api.client("miguel") as miguel:  # another institution's supervisor
        assert theirs not in {
            r["referral_id"] for r in (await miguel.get("/referrals")).json()["items"]
        }
    async with api.client("sofia") as sofia:  # the case's supervisor
        assert theirs in {r["referral_id"] for r in (await sofia.get("/referrals")).json()["items"]}
    assert (await step_state(api, case_id, "shelter"))["state"] == "referred"


async def test_institutions_are_listed_without_their_channels_details(api: Api) -> None:
    async with api.client("ana") as ana:
        listed = (await ana.get("/institutions")).json()
    by_id = {i["id"]: i for i in listed}
    assert by_id["refugio-webhook"] == {
        "id": "refugio-webhook",
        "name": "Refugio con sistema propio",
        "steps": ["shelter"],
        "channel": "webhook",
    }
    assert WEBHOOK_SECRET not in json.dumps(listed)


async def test_consent_override_is_a_supervisors_recorded_decision(api: Api) -> None:
    case_id = await identified(api, consent_data_sharing=False)
    shelter = f"/cases/{case_id}/steps/shelter"
    refer_body = {"action": "refer", "institution": "hogar-oblatas"}
    async with api.client("ana") as ana, api.client("sofia") as sofia:
        problem(await ana.post(shelter, json=refer_body), 409, "consent_required")
        overriding = refer_body | {"consent_override": "she is in danger tonight"}
        problem(await ana.post(shelter, json=overriding), 403, "forbidden")
        problem(await sofia.post(shelter, json={"action": "start"}), 403, "forbidden")
        referred = await sofia.post(shelter, json=overriding)
        assert referred.status_code == 200, referred.text
        referral_id = referral_of(referred.json(), "shelter")
        seen = (await sofia.get(f"/referrals/{referral_id}")).json()
    assert seen["consent_overridden"] is True
    (event,) = [e for e in await events(api, case_id) if e["type"] == "StepReferred"]
    assert (event["actor"], event["data"]["consent_override"]) == (
        "sofia",
        "she is in danger tonight",
    )


async def test_revoked_and_redirected_referrals(api: Api) -> None:
    case_id = await identified(api)
    first = await refer(api, case_id)
    async with api.client("ana") as ana:
        revoked = await ana.post(f"/referrals/{first}/revocation", json={"reason": "moved away"})
        assert revoked.json()["state"] == "revoked", revoked.text
        assert (await step_state(api, case_id, "shelter"))["state"] == "pending"
        again = await ana.post(f"/referrals/{first}/revocation", json={"reason": "twice"})
        problem(again, 409, "referral_final")
        second = await refer(api, case_id)
        unknown = await ana.post(
            f"/referrals/{second}/redirection", json={"institution": "nadie", "reason": "x"}
        )
        problem(unknown, 422, "institution_unknown")
        moved = await ana.post(
            f"/referrals/{second}/redirection",
            json={"institution": "casa-refugio", "reason": "no beds"},
        )
        assert moved.status_code == 200, moved.text
        new = moved.json()
        assert (new["institution"], new["state"]) == ("casa-refugio", "delivered")  # an inbox
        old = (await ana.get(f"/referrals/{second}")).json()
        assert (old["state"], old["redirected_to"]) == ("redirected", new["referral_id"])
    async with api.client("hogar") as hogar:
        answer = await hogar.post(f"/referrals/{second}/answer", json={"decision": "accepted"})
        problem(answer, 409, "referral_final")
    async with api.client("refugio") as refugio:
        answer = await refugio.post(
            f"/referrals/{new['referral_id']}/answer", json={"decision": "accepted"}
        )
        assert answer.status_code == 200, answer.text


def signed(body: bytes, *, secret: str = WEBHOOK_SECRET, at: float | None = None) -> dict[str, str]:
    stamp = int(time.time() if at is None else at)
    return {SIGNATURE_HEADER: sign(secret, body, stamp), "Content-Type": "application/json"}


async def test_signed_answers_forged_stale_and_replayed_are_refused(api: Api) -> None:
    case_id = await identified(api)
    referral_id = await refer(api, case_id, to="refugio-webhook")
    path = f"/referrals/{referral_id}/signed-answer"
    body = json.dumps({"decision": "accepted", "reference": "RW-1"}).encode()
    before = await events(api, case_id)
    async with api.client() as anonymous:
        for headers, code in (
            ({"Content-Type": "application/json"}, "signature_missing"),
            (signed(body, secret="not-the-shared-secret-at-all"), "signature_invalid"),
            (signed(body, at=time.time() - 600), "signature_stale"),
            (signed(body, at=time.time() + 600), "signature_stale"),
            ({SIGNATURE_HEADER: "t=1,v1=zz"}, "signature_malformed"),
        ):
            problem(await anonymous.post(path, content=body, headers=headers), 401, code)
        tampered = signed(body)
        other = json.dumps({"decision": "completed"}).encode()
        problem(
            await anonymous.post(path, content=other, headers=tampered), 401, "signature_invalid"
        )
        assert await events(api, case_id) == before  # (its delivery keeps failing: port 9)

        headers = signed(body)
        taken = await anonymous.post(path, content=body, headers=headers)
        assert taken.status_code == 200, taken.text
        assert (taken.json()["state"], taken.json()["reference"]) == ("accepted", "RW-1")
        after = await events(api, case_id)
        replayed = await anonymous.post(path, content=body, headers=headers)
        problem(replayed, 401, "signature_replayed")
        assert await events(api, case_id) == after
        # An answer to someone else's referral with this secret is not taken either.
        hogars = await refer(api, await identified(api))
        problem(
            await anonymous.post(
                f"/referrals/{hogars}/signed-answer", content=body, headers=signed(body)
            ),
            401,
            "signature_invalid",
        )
    (answered,) = [e for e in after if e["type"] == "ReferralAnswered"]
    assert answered["actor"] == "refugio-webhook"
    assert (await step_state(api, case_id, "shelter"))["state"] == "in_progress"


# --- delivery through the worker, to a real webhook server ---------------------------------


def registry_with(tmp_path: Path, url: str) -> Path:
    """The tests' registry, its webhook institution pointing at `url` (a 1 s timeout)."""
    text = TEST_REGISTRY.read_text().replace("http://127.0.0.1:9/referrals", url)
    text = text.replace("timeout_seconds = 2", "timeout_seconds = 1")
    path = tmp_path / "institutions.toml"
    path.write_text(text)
    return path


async def board_shows_failing(api: Api, case_id: str, failing: bool, when: str) -> None:
    """Wait (30 s at most) until the board shows the case `delivery_failing`, or not."""
    deadline = time.monotonic() + 30
    async with api.client("sofia") as sofia:
        while True:
            stuck = (await sofia.get("/supervision/stuck", params={"limit": 200})).json()
            shown = any(
                i["case_id"] == case_id and i["reason"] == "delivery_failing"
                for i in stuck["items"]
            )
            if shown == failing:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"delivery_failing {'not ' * failing}shown {when}")
            await asyncio.sleep(0.1)


async def test_a_webhook_through_errors_and_a_timeout_gets_one_signed_referral(
    api_dev_server: DevServer, tmp_path: Path
) -> None:
    institution = Receiver(WEBHOOK_SECRET, hang_seconds=2.5)
    institution.script = ["500", "500", "hang"]  # then 200
    with serving(institution) as url:
        async with running_api(
            api_dev_server,
            tmp_path,
            institutions_file=registry_with(tmp_path, url),
            delivery_backoff_seconds=0.5,
        ) as api:
            case_id = await identified(api)
            referral_id = await refer(api, case_id, to="refugio-webhook")

            await board_shows_failing(api, case_id, True, "while it fails")
            referral = await delivered(api, referral_id)
            await board_shows_failing(api, case_id, False, "once delivered")
    assert referral["channel"] == "webhook"
    assert len(institution.requests) == 4
    assert {r.signature for r in institution.requests} == {"valid"}
    assert {r.headers["Idempotency-Key"] for r in institution.requests} == {referral_id}
    assert list(institution.accepted) == [referral_id]  # the hang took it; the repeat did not
    sent = institution.requests[-1].json
    assert sent["referral_id"] == referral_id and "birth_date" not in sent["person"]


async def test_a_failing_referral_redirected_to_another_institution(
    api_dev_server: DevServer, tmp_path: Path
) -> None:
    institution = Receiver(WEBHOOK_SECRET)
    institution.script = ["500"] * 1000  # down for good
    with serving(institution) as url:
        async with running_api(
            api_dev_server, tmp_path, institutions_file=registry_with(tmp_path, url)
        ) as api:
            case_id = await identified(api)
            referral_id = await refer(api, case_id, to="refugio-webhook")

            await board_shows_failing(api, case_id, True, "while it fails")
            async with api.client("sofia") as sofia:
                moved = await sofia.post(
                    f"/referrals/{referral_id}/redirection",
                    json={"institution": "casa-refugio", "reason": "their system is down"},
                )
            assert moved.status_code == 200, moved.text
            await delivered(api, moved.json()["referral_id"])
            await board_shows_failing(api, case_id, False, "after the redirection")
            tried = len(institution.requests)
            await asyncio.sleep(1.5)  # the failing one is no longer retried
            assert len(institution.requests) <= tried + 1
    assert institution.accepted == {}
