"""The OpenAPI document against the running API: schemathesis generates requests for every
operation, signed in as a caseworker and as a supervisor, valid and invalid ones.

No answer may be a 5xx, and every answer must be one the document declares: its status,
its content type and its body's schema. Bounded (a few dozen examples per operation and
user, derandomized) so the file runs in about a minute.

Each operation is driven by Hypothesis in a worker thread with a synchronous client, so
the `api` fixture's event loop (uvicorn, the worker) keeps serving meanwhile.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import PREFIX, create_app
from tests.api.conftest import Api, new_case

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 8}
UNKNOWN_CASE_EXAMPLES = 5  # generated case ids: the same 404 each time, a few suffice
USERS = ("ana", "sofia")  # a caseworker, and the supervisor of her institution


def _exercise(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    base_url: str,
    headers: dict[str, str],
    path_parameters: dict[str, str],
) -> int:
    """Run `operation` for up to `examples` examples; the number of requests sent."""
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None)
    sent = 0
    with requests.Session() as session:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            report_multiple_bugs=False,
        )
        @given(case=strategy)
        def check(case: schemathesis.Case) -> None:
            nonlocal sent
            response = case.call(base_url=base_url, headers=headers, session=session, timeout=30)
            sent += 1
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            check()
        except Unsatisfiable:
            # Nothing to make invalid (no parameters, no body): no negative examples.
            assert mode is GenerationMode.NEGATIVE, operation.label
    return sent


async def test_every_operation_conforms_to_the_openapi_document(
    api: Api, subtests: pytest.Subtests
) -> None:
    async with api.client("ana") as ana:
        document = (await ana.get("/openapi.json")).json()
        opened = await ana.post("/cases", json=new_case())
        assert opened.status_code == 201, opened.text
        # A case with every step open, so step commands reach the path's rules.
        case_id = opened.json()["case_id"]
        done = await ana.post(
            f"/cases/{case_id}/steps/identification",
            json={"action": "complete", "outcome": "confirmed_victim"},
        )
        assert done.status_code == 200, done.text
        # A visa too, so renewals and cancellations reach the rules (a year from expiry).
        held = await ana.post(
            f"/cases/{case_id}/visas",
            json={"kind": "work", "number": "W-1", "issued_on": "2025-01-02",
                  "expires_on": (date.today() + timedelta(days=365)).isoformat()},
        )  # fmt: skip
        assert held.status_code == 201, held.text
    known = {"case_id": case_id, "visa_id": held.json()["visa_id"]}
    schema = schemathesis.openapi.from_dict(document)
    loaded = list(schema.get_all_operations())
    operations = [result.ok() for result in loaded if isinstance(result, Ok)]
    assert len(operations) == len(loaded), "operations schemathesis cannot read"
    labels = {f"{op.method.upper()} {op.path}" for op in operations}
    documented = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops}
    assert labels == documented and len(labels) >= 15, labels

    sent = 0
    for operation in operations:
        ids = {name: value for name, value in known.items() if f"{{{name}}}" in operation.path}
        on_a_case = bool(ids)
        for user in USERS:
            headers = {"Authorization": f"Bearer {api.tokens[user]}"}
            runs = [(mode, examples, ids) for mode, examples in EXAMPLES.items()]
            if on_a_case:  # generated ids too: cases and visas that are not there
                runs.append((GenerationMode.POSITIVE, UNKNOWN_CASE_EXAMPLES, {}))
            for mode, examples, params in runs:
                label = f"{operation.label} as {user}, {mode.value}, {params or 'generated'}"
                with subtests.test(label):
                    sent += await asyncio.to_thread(
                        _exercise, operation, mode, examples, api.base_url, headers, params
                    )
    assert sent >= len(operations) * len(USERS) * 10

    # After all that, the API still serves, and the case is still whole.
    async with api.client("sofia") as sofia:
        assert (await sofia.get(f"/cases/{case_id}")).status_code == 200
        events = (await sofia.get(f"/cases/{case_id}/events")).json()
        assert [e["version"] for e in events] == list(range(1, len(events) + 1))


def test_error_responses_document_the_problem_schema() -> None:
    """What is sent as `application/problem+json` is described as that, with its schema."""
    document = create_app().openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and path != f"{PREFIX}/readyz":
                    content = response.get("content", {})
                    assert set(content) == {"application/problem+json"}, (method, path, status)
                    schema = content["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}
