"""Recorded histories must replay on the current code: a change that breaks determinism fails here.

The histories are written by the workflow tests the first time they run and committed;
when a workflow change is deliberate, guard it with `workflow.patched` and keep the old
histories, so cases already running keep replaying.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from amparo.temporal import data_converter
from worker import SANDBOX, WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_recorded() -> None:
    assert {p.stem for p in HISTORIES} >= {
        "full_path",
        "overdue_escalation",
        "full_path_local_append",
        "overdue_escalation_local_append",
        "case_with_visa",
        "visa_renewal",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=data_converter(), workflow_runner=SANDBOX
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
