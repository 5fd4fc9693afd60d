"""Latency of `POST /cases/{id}/steps/{step}` on a running stack, against a bare Temporal Update.

Run against `make run` (or any stack):
    .venv/bin/python -m bench.step_latency --cases 20
Both series run one request at a time, in the same process, on the same dev server.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from amparo.temporal import data_converter
from bench.baseline import BareWorkflow
from bench.stats import emit, summary

PATH = [  # step, body: one case's walk after opening
    ("identification", {"action": "complete", "outcome": "confirmed_victim"}),
    ("shelter", {"action": "start"}),
    ("shelter", {"action": "complete"}),
    ("health", {"action": "start"}),
    ("health", {"action": "complete"}),
    ("legal", {"action": "not_needed", "reason": "no proceedings"}),
    ("documentation", {"action": "start"}),
    ("documentation", {"action": "complete"}),
]


def case_body(n: int) -> dict[str, object]:
    return {
        "crime_type": "smuggling",
        "person": {"given_name": f"Bench{n}", "family_name": "Case", "sex": "male",
                   "nationality": "HT"},
    }  # fmt: skip


async def api_series(api: str, user: str, password: str, cases: int) -> list[float]:
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        token = await http.post("/auth/token", data={"username": user, "password": password})
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        samples: list[float] = []
        for n in range(cases):
            case_id = (await http.post("/cases", json=case_body(n))).json()["case_id"]
            for step, body in PATH:
                start = time.perf_counter()
                answer = await http.post(f"/cases/{case_id}/steps/{step}", json=body)
                samples.append(time.perf_counter() - start)
                answer.raise_for_status()
        return samples


async def bare_series(address: str, count: int) -> list[float]:
    client = await Client.connect(address, data_converter=data_converter())
    queue = f"bench-bare-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[BareWorkflow]):
        handle = await client.start_workflow(
            BareWorkflow.run, id=f"bench-bare-{uuid.uuid4()}", task_queue=queue
        )
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            await handle.execute_update(BareWorkflow.bump, 1)
            samples.append(time.perf_counter() - start)
        await handle.signal(BareWorkflow.finish)
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api", default="http://localhost:8000/api/v1")
    parser.add_argument("--temporal", default="localhost:7233")
    parser.add_argument("--user", default="ana.martinez")
    parser.add_argument("--password", default="amparo-demo-ana")
    parser.add_argument("--cases", type=int, default=20)
    args = parser.parse_args()
    api = await api_series(args.api, args.user, args.password, args.cases)
    bare = await bare_series(args.temporal, len(api))
    base = summary("bare_temporal_update", bare)
    result = summary("api_step_command", api)
    result["ratio_p50_to_bare"] = round(result["p50_ms"] / base["p50_ms"], 2)
    emit(base)
    emit(result)


if __name__ == "__main__":
    asyncio.run(main())
