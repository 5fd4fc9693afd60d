"""The codec endpoint over a real API and dev server: a case's payloads, decrypted for a
supervisor only; CORS for the Temporal UI's origin on these routes only."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.client import Client

from amparo.devstack import DevServer
from amparo.keyring import master_keyring
from amparo.settings import Settings
from tests.api.conftest import PASSWORD, Api, new_case, running_api
from tests.integration.test_encrypted_history import encrypted_payloads
from workflows.contracts import case_workflow_id

UI = "http://localhost:18233"


@pytest.fixture
async def api(api_dev_server: DevServer, tmp_path: Path) -> AsyncIterator[Api]:
    """The API with its master key made in its data dir (unless the environment gives one)."""
    master_keyring(Settings(data_dir=tmp_path), create=True)
    async with running_api(api_dev_server, tmp_path, codec_cors_origins=[UI]) as running:
        yield running


async def case_payloads(api: Api, dev_server: DevServer) -> list[dict[str, Any]]:
    """A new case's encrypted payloads, as Temporal's history holds them (protobuf JSON)."""
    async with api.client("ana") as ana:
        opened = await ana.post("/cases", json=new_case())
    assert opened.status_code == 201, opened.text
    plain = await Client.connect(dev_server.config.address)  # no codec: what Temporal stores
    handle = plain.get_workflow_handle(case_workflow_id(opened.json()["case_id"]))
    history = json.loads((await handle.fetch_history()).to_json())
    found = [json_format.MessageToDict(p) for p in encrypted_payloads(history)]
    assert found
    return found


def data_of(answer: httpx.Response) -> bytes:
    assert answer.status_code == 200, answer.text
    return b"".join(base64.b64decode(p.get("data", "")) for p in answer.json()["payloads"])


async def test_a_supervisor_sees_the_payloads_of_a_history(
    api: Api, api_dev_server: DevServer
) -> None:
    payloads = await case_payloads(api, api_dev_server)
    assert all(b"Rosa" not in base64.b64decode(p["data"]) for p in payloads)
    for reader in ("sofia", "admin"):
        async with api.client(reader) as client:
            decoded = await client.post("/codec/decode", json={"payloads": payloads})
        opened = data_of(decoded)
        assert "Peña".encode() in opened and b"1990-04-02" in opened
        assert all(
            p["metadata"]["encoding"] != base64.b64encode(b"binary/encrypted").decode()
            for p in decoded.json()["payloads"]
        )


async def test_encode_then_decode_gives_the_payload_back(api: Api) -> None:
    original = {
        "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
        "data": base64.b64encode(b'{"note": "Rosa"}').decode(),
    }
    async with api.client("sofia") as sofia:
        encoded = await sofia.post("/codec/encode", json={"payloads": [original]})
        assert encoded.status_code == 200, encoded.text
        assert b"Rosa" not in data_of(encoded)
        decoded = await sofia.post("/codec/decode", json=encoded.json())
    assert decoded.json() == {"payloads": [original]}


async def test_only_supervisors_and_admins_may_decode(api: Api, api_dev_server: DevServer) -> None:
    payloads = await case_payloads(api, api_dev_server)
    async with api.client() as anonymous:
        refused = await anonymous.post("/codec/decode", json={"payloads": payloads})
    assert refused.status_code == 401
    assert refused.json()["code"] == "not_authenticated"
    for name in ("ana", "hogar", "analista"):
        async with api.client(name) as client:
            refused = await client.post("/codec/decode", json={"payloads": payloads})
        assert refused.status_code == 403, name
        assert refused.headers["content-type"] == "application/problem+json"
        assert "Rosa" not in refused.text


async def test_altered_or_unnamed_payloads_are_400(api: Api, api_dev_server: DevServer) -> None:
    sealed = (await case_payloads(api, api_dev_server))[0]
    data = bytearray(base64.b64decode(sealed["data"]))
    data[-1] ^= 1
    altered = sealed | {"data": base64.b64encode(bytes(data)).decode()}
    unnamed = sealed | {"metadata": {"encoding": sealed["metadata"]["encoding"]}}
    async with api.client("sofia") as sofia:
        for body in ({"payloads": [altered]}, {"payloads": [unnamed]}):
            answer = await sofia.post("/codec/decode", json=body)
            assert answer.status_code == 400, answer.text
            assert answer.json()["code"] == "payload_not_decodable"


async def test_cors_answers_the_configured_origin_on_the_codec_routes_only(api: Api) -> None:
    async with httpx.AsyncClient(base_url=f"{api.base_url}/api/v1", timeout=30) as http:

        async def preflight(path: str, origin: str) -> httpx.Response:
            headers = {
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
            }
            return await http.options(path, headers=headers)

        for path in ("/codec/decode", "/codec/encode"):
            allowed = await preflight(path, UI)
            assert allowed.status_code == 200, allowed.text
            assert allowed.headers["access-control-allow-origin"] == UI
            assert "POST" in allowed.headers["access-control-allow-methods"]
            assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
            other = await preflight(path, "http://evil.example")
            assert "access-control-allow-origin" not in other.headers
        elsewhere = await preflight("/cases", UI)
        assert "access-control-allow-origin" not in elsewhere.headers
        # The actual call (even refused) names the origin, so the UI can read the answer.
        refused = await http.post("/codec/decode", json={"payloads": []}, headers={"Origin": UI})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == UI


async def test_a_browser_signed_in_as_a_supervisor_decodes_with_its_cookie(
    api: Api, api_dev_server: DevServer
) -> None:
    """What the Temporal UI does with "include cross-origin credentials": the cookie set
    at sign-in, sent to the codec routes only, from the UI's origin."""
    payloads = await case_payloads(api, api_dev_server)
    async with httpx.AsyncClient(base_url=f"{api.base_url}/api/v1") as browser:
        signed = await browser.post("/auth/token", data={"username": "sofia", "password": PASSWORD})
        cookie = signed.headers["set-cookie"]
        assert "amparo_codec=" in cookie and "HttpOnly" in cookie
        assert "Path=/api/v1/codec" in cookie and "samesite=lax" in cookie.lower()
        asked = await browser.post(
            "/codec/decode", json={"payloads": payloads}, headers={"Origin": UI}
        )
        assert "Peña".encode() in data_of(asked)
        assert asked.headers["access-control-allow-origin"] == UI
        assert asked.headers["access-control-allow-credentials"] == "true"
        # The cookie goes nowhere else: other routes still want the bearer token.
        assert (await browser.get("/cases")).status_code == 401
    async with httpx.AsyncClient(base_url=f"{api.base_url}/api/v1") as other:
        ana = await other.post("/auth/token", data={"username": "ana", "password": PASSWORD})
        assert "set-cookie" not in ana.headers  # a caseworker gets no codec cookie
        other.cookies.set("amparo_codec", ana.json()["access_token"], path="/api/v1/codec")
        refused = await other.post("/codec/decode", json={"payloads": payloads})
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
        other.cookies.clear()
        anonymous = await other.post("/codec/decode", json={"payloads": payloads})
        assert anonymous.status_code == 401
