"""`VisaRenewalWorkflow`: one per visa, its durable timers for years, its alerts to the case.

It decides nothing and writes nothing: at each reminder date and at the expiry it signals
the case's workflow, the single writer of the case's stream, which decides whether the
alert still applies (`domain.decide`: a renewed or cancelled visa makes it stale) and
records and notifies it. Signals are durable and delivered once; the case refuses a
repeat, so a worker lost between timers neither misses nor doubles a reminder. A renewal
continues as new with the next cycle; a cancellation ends it; after the expiry it waits
for a late renewal or a cancellation, holding no timer.
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.visas import EXPIRY, schedule
    from workflows.contracts import VisaDue, VisaWorkflowInput, case_workflow_id

VISA_DUE_SIGNAL = "visa_due"


@workflow.defn
class VisaRenewalWorkflow:
    """One visa or permit, followed cycle by cycle until it is cancelled."""

    @workflow.init
    def __init__(self, inp: VisaWorkflowInput) -> None:
        self._renewed_to: date | None = None
        self._cancelled = False

    @workflow.signal
    def renewed(self, expires_on: date) -> None:
        """The case recorded a renewal: the next cycle starts from this expiry."""
        if self._renewed_to is None or expires_on > self._renewed_to:
            self._renewed_to = expires_on

    @workflow.signal
    def cancelled(self) -> None:
        self._cancelled = True

    @workflow.run
    async def run(self, inp: VisaWorkflowInput) -> str:
        for alert in schedule(inp.expires_on, inp.policy, workflow.now(), inp.sent):
            delay = (alert.at - workflow.now()).total_seconds()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(self._changed, timeout=timedelta(seconds=delay))
            if self._changed():
                return self._next_cycle(inp)
            await self._tell_case(inp, alert.days)
            if alert.days == EXPIRY:
                workflow.logger.info("visa expired", extra={"visa_id": str(inp.visa_id)})
        await workflow.wait_condition(self._changed)
        return self._next_cycle(inp)

    def _changed(self) -> bool:
        return self._cancelled or self._renewed_to is not None

    def _next_cycle(self, inp: VisaWorkflowInput) -> str:
        if self._cancelled:
            return "cancelled"
        assert self._renewed_to is not None
        workflow.continue_as_new(
            inp.model_copy(update={"expires_on": self._renewed_to, "sent": ()})
        )

    async def _tell_case(self, inp: VisaWorkflowInput, days: int) -> None:
        case = workflow.get_external_workflow_handle(case_workflow_id(inp.case_id))
        alert = VisaDue(visa_id=inp.visa_id, expires_on=inp.expires_on, days=days)
        try:
            await case.signal(VISA_DUE_SIGNAL, alert)
        except Exception:  # the case's workflow is gone: nobody is left to remind
            workflow.logger.warning("visa alert undeliverable", extra={"visa_id": str(inp.visa_id)})
