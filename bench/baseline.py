"""The bare-engine baseline: a trivial workflow answering a trivial Update, on the same server."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn
class BareWorkflow:
    """Holds a counter; no store, no domain: what Temporal alone costs per Update."""

    def __init__(self) -> None:
        self.count = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.count

    @workflow.update
    async def bump(self, value: int) -> int:
        self.count += value
        return self.count

    @workflow.signal
    def finish(self) -> None:
        self.done = True
