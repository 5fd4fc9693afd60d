"""`ProtectionCaseWorkflow`: one durable workflow per case, hosting the pure decider.

Every command is an Update. Its validator runs `decide`, so a refused command never
enters the history; its handler decides and applies in one synchronous step (handlers
interleave at awaits), queues the events in an ordered outbox, and returns once the
outbox has stored them — so after a 200 the projections already show the change.
SLA timers live here too, and the run continues as new long before Temporal's limits.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        APPEND_EVENTS,
        DELIVER_REFERRAL,
        NOTIFY,
        AppendEventsInput,
        AppendEventsResult,
        DeliverReferralInput,
        DeliverReferralResult,
        NotifyInput,
    )
    from domain import CaseState, DomainError, Event, decide, evolve_all
    from domain import commands as cmd
    from domain import events as ev
    from domain.deadlines import due_now, next_fire_time
    from domain.ids import decision_key, decision_key_of
    from domain.vocabulary import SYSTEM_ACTOR, CaseStatus
    from workflows import search_attributes as sa
    from workflows.contracts import (
        CaseResult,
        CaseWorkflowInput,
        CommandResult,
        VisaDue,
        VisaWorkflowInput,
        visa_workflow_id,
    )
    from workflows.visa import VISA_DUE_SIGNAL, VisaRenewalWorkflow

# Events that people must hear about, and the kind of notification each becomes.
NOTIFIED_EVENTS = {"StepOverdue": "step_overdue", "OverdueEscalated": "step_escalated"}
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)
RECENT_COMMANDS = 200  # answers kept for retried commands (carried over continue-as-new)
ADOPTED_KEPT = 1000  # events adopted from the store, kept to answer their commands' retries
LOCAL_APPEND = "local-append"  # patch: the append became a local activity
APPEND_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
REFERRAL_DELIVERY = "referral-delivery"  # patch: referrals are delivered by an activity
DELIVERY_MAX_INTERVAL = timedelta(minutes=30)  # an institution down for days: twice an hour


def refusal(error: DomainError) -> ApplicationError:
    """A domain refusal as the error callers see: its type is the stable code."""
    return ApplicationError(error.detail, type=error.code, non_retryable=True)


@workflow.defn
class ProtectionCaseWorkflow:
    """One case's protection path, from opening to closure, for as long as it takes."""

    @workflow.init
    def __init__(self, inp: CaseWorkflowInput) -> None:
        self._input = inp
        self._state = inp.state or CaseState()
        self._outbox: list[Event] = []
        self._stored_state = self._state  # the case as the store holds it
        # Commands whose events wait in the outbox: key -> (command, version they reach).
        self._queued: dict[str, tuple[cmd.Command, int]] = {}
        self._refused: dict[str, DomainError] = {}  # refused when decided again (catch-up)
        self._adopted: dict[int, Event] = {}  # by decision key
        self._updates = 0
        self._next_fire: datetime | None = next_fire_time(self._state)
        self._attributes: list[SearchAttributeUpdate] = []
        self._recent: dict[str, CommandResult] = dict(inp.recent_commands)
        self._notices: dict[str, NotifyInput] = {}
        self._visa_calls = 0  # visa workflows being started or signalled
        self._deliveries: dict[UUID, asyncio.Task[None]] = {}  # by referral id

    @workflow.run
    async def run(self, inp: CaseWorkflowInput) -> CaseResult:
        if not await self._opened(inp):
            return self._result()
        self._publish_attributes()
        for notice in inp.pending_notices:
            self._start_notice(notice)
        self._resume_deliveries()
        timers = asyncio.create_task(self._sla_timers())
        while True:
            await workflow.wait_condition(
                lambda: bool(self._outbox) or self._finished() or self._continue_due()
            )
            if self._outbox:
                await self._flush()
            elif self._finished():
                timers.cancel()
                return self._result()
            else:
                await workflow.wait_condition(
                    lambda: (
                        (workflow.all_handlers_finished() and not self._visa_calls)
                        or bool(self._outbox)
                    )
                )
                if not self._outbox:
                    workflow.continue_as_new(self._carry_over())

    async def _opened(self, inp: CaseWorkflowInput) -> bool:
        """Wait for the opening command; a case that never opens ends quietly."""
        try:
            await workflow.wait_condition(
                lambda: self._state.status is not CaseStatus.NEW,
                timeout=timedelta(seconds=inp.unopened_timeout_seconds),
            )
        except TimeoutError:
            await workflow.wait_condition(workflow.all_handlers_finished)
            return self._state.status is not CaseStatus.NEW
        return True

    # --- queries -------------------------------------------------------------------------

    @workflow.query
    def case(self) -> CaseState:
        """The case as decided so far (events may still be on their way to the store)."""
        return self._state

    # --- updates: one per command --------------------------------------------------------

    @workflow.update
    async def open_case(self, command: cmd.OpenCase) -> CommandResult:
        return await self._handle(command)

    @open_case.validator
    def _validate_open_case(self, command: cmd.OpenCase) -> None:
        self._validate(command)

    @workflow.update
    async def assign_case(self, command: cmd.AssignCase) -> CommandResult:
        return await self._handle(command)

    @assign_case.validator
    def _validate_assign_case(self, command: cmd.AssignCase) -> None:
        self._validate(command)

    @workflow.update
    async def advance_step(self, command: cmd.AdvanceStep) -> CommandResult:
        return await self._handle(command)

    @advance_step.validator
    def _validate_advance_step(self, command: cmd.AdvanceStep) -> None:
        self._validate(command)

    @workflow.update
    async def add_note(self, command: cmd.AddNote) -> CommandResult:
        return await self._handle(command)

    @add_note.validator
    def _validate_add_note(self, command: cmd.AddNote) -> None:
        self._validate(command)

    @workflow.update
    async def give_consent(self, command: cmd.GiveConsent) -> CommandResult:
        return await self._handle(command)

    @give_consent.validator
    def _validate_give_consent(self, command: cmd.GiveConsent) -> None:
        self._validate(command)

    @workflow.update
    async def withdraw_consent(self, command: cmd.WithdrawConsent) -> CommandResult:
        return await self._handle(command)

    @withdraw_consent.validator
    def _validate_withdraw_consent(self, command: cmd.WithdrawConsent) -> None:
        self._validate(command)

    @workflow.update
    async def request_closure(self, command: cmd.RequestClosure) -> CommandResult:
        return await self._handle(command)

    @request_closure.validator
    def _validate_request_closure(self, command: cmd.RequestClosure) -> None:
        self._validate(command)

    @workflow.update
    async def decide_closure(self, command: cmd.DecideClosure) -> CommandResult:
        return await self._handle(command)

    @decide_closure.validator
    def _validate_decide_closure(self, command: cmd.DecideClosure) -> None:
        self._validate(command)

    @workflow.update
    async def acknowledge_overdue(self, command: cmd.AcknowledgeOverdue) -> CommandResult:
        return await self._handle(command)

    @acknowledge_overdue.validator
    def _validate_acknowledge_overdue(self, command: cmd.AcknowledgeOverdue) -> None:
        self._validate(command)

    @workflow.update
    async def register_visa(self, command: cmd.RegisterVisa) -> CommandResult:
        return await self._handle(command)

    @register_visa.validator
    def _validate_register_visa(self, command: cmd.RegisterVisa) -> None:
        self._validate(command)

    @workflow.update
    async def renew_visa(self, command: cmd.RenewVisa) -> CommandResult:
        return await self._handle(command)

    @renew_visa.validator
    def _validate_renew_visa(self, command: cmd.RenewVisa) -> None:
        self._validate(command)

    @workflow.update
    async def cancel_visa(self, command: cmd.CancelVisa) -> CommandResult:
        return await self._handle(command)

    @cancel_visa.validator
    def _validate_cancel_visa(self, command: cmd.CancelVisa) -> None:
        self._validate(command)

    @workflow.update
    async def erase_person(self, command: cmd.ErasePerson) -> CommandResult:
        return await self._handle(command)

    @erase_person.validator
    def _validate_erase_person(self, command: cmd.ErasePerson) -> None:
        self._validate(command)

    @workflow.update
    async def answer_referral(self, command: cmd.AnswerReferral) -> CommandResult:
        return await self._handle(command)

    @answer_referral.validator
    def _validate_answer_referral(self, command: cmd.AnswerReferral) -> None:
        self._validate(command)

    @workflow.update
    async def revoke_referral(self, command: cmd.RevokeReferral) -> CommandResult:
        return await self._handle(command)

    @revoke_referral.validator
    def _validate_revoke_referral(self, command: cmd.RevokeReferral) -> None:
        self._validate(command)

    @workflow.update
    async def redirect_referral(self, command: cmd.RedirectReferral) -> CommandResult:
        return await self._handle(command)

    @redirect_referral.validator
    def _validate_redirect_referral(self, command: cmd.RedirectReferral) -> None:
        self._validate(command)

    # --- signals from the case's visa workflows ------------------------------------------

    @workflow.signal(name=VISA_DUE_SIGNAL)
    def visa_due(self, alert: VisaDue) -> None:
        """A visa timer fired: record the reminder or expiry, if it still applies."""
        command_id = uuid5(alert.visa_id, f"{alert.expires_on.isoformat()}:{alert.days}")
        base = {"command_id": command_id, "actor": SYSTEM_ACTOR, "at": workflow.now()}
        command: cmd.Command
        if alert.days == 0:
            command = cmd.RecordVisaExpiry(
                visa_id=alert.visa_id, expires_on=alert.expires_on, **base
            )
        else:
            command = cmd.RecordVisaReminder(
                visa_id=alert.visa_id, expires_on=alert.expires_on, days=alert.days, **base
            )
        try:
            self._apply(str(command_id), command)
        except DomainError as error:  # renewed, cancelled or sent since: nothing to tell
            workflow.logger.info("visa alert stale", extra=self._log_context(code=error.code))

    # --- deciding --------------------------------------------------------------------------

    def _command_id(self, command: cmd.Command) -> UUID:
        """The update id is the caller's idempotency key, and so the command's id."""
        info = workflow.current_update_info()
        if info is None:
            return command.command_id
        try:
            return UUID(info.id)
        except ValueError:
            return uuid5(NAMESPACE_URL, info.id)

    def _stamp(self, command: cmd.Command) -> cmd.Command:
        """The workflow's clock and the command id on the command."""
        return command.model_copy(
            update={"at": workflow.now(), "command_id": self._command_id(command)}
        )

    def _validate(self, command: cmd.Command) -> None:
        command_id = self._command_id(command)
        if str(command_id) in self._recent or self._adopted_result(command_id) is not None:
            return  # a retry of a command already applied: its handler answers again
        try:
            decide(self._state, self._stamp(command))
        except DomainError as error:
            raise refusal(error) from None

    async def _handle(self, command: cmd.Command) -> CommandResult:
        command_id = self._command_id(command)
        key = str(command_id)
        if key not in self._recent:
            adopted = self._adopted_result(command_id)
            if adopted is None:
                try:
                    adopted = self._apply(key, self._stamp(command))
                except DomainError as error:  # the state moved since validation
                    raise refusal(error) from None
                self._updates += 1
            self._remember(key, adopted)
        # Answer only once the events are stored: the next read shows the change.
        await workflow.wait_condition(lambda: key not in self._queued)
        refused = self._refused.pop(key, None)
        if refused is not None:
            raise refusal(refused)
        return self._recent[key]

    def _remember(self, key: str, result: CommandResult) -> None:
        """Keep recent answers so a retried command (same id) is never applied twice.

        Temporal deduplicates update ids, but a worker killed mid-task can still see the
        caller's retry and the redelivered original both arrive; this is the guard.
        """
        self._recent[key] = result
        while len(self._recent) > RECENT_COMMANDS:
            del self._recent[next(iter(self._recent))]

    def _apply(self, key: str, command: cmd.Command) -> CommandResult:
        """Decide and apply in one synchronous step; queue the events for the store."""
        events = decide(self._state, command)
        self._state = evolve_all(self._state, events)
        self._outbox.extend(events)
        if self._state.version > self._stored_state.version:
            self._queued[key] = (command, self._state.version)
        self._next_fire = next_fire_time(self._state)
        self._publish_attributes()
        assert self._state.case_id is not None
        return CommandResult(
            case_id=self._state.case_id,
            version=self._state.version,
            events=[e.type for e in events],
        )

    def _adopted_result(self, command_id: UUID) -> CommandResult | None:
        """The answer of a command whose events were adopted from the store, if they were."""
        found: list[Event] = []
        while (event := self._adopted.get(decision_key(command_id, len(found)))) is not None:
            found.append(event)
        if not found:
            return None
        return CommandResult(
            case_id=found[0].case_id, version=found[-1].version, events=[e.type for e in found]
        )

    # --- storing -----------------------------------------------------------------------------

    async def _flush(self) -> None:
        """Store the outbox in order; retried until the store takes it (idempotent by id).

        A local activity: it runs inside the workflow task that decided the events, one
        task per command instead of two plus an activity task. So it writes before that
        task is in the history, and a worker killed in between leaves stored events that
        the task's re-run decides again differently (another clock, another order). The
        store is the truth then: the append answers with what it holds, and the workflow
        adopts it (`_catch_up`). Runs recorded before the patch keep the regular activity.
        """
        batch = list(self._outbox)
        try:
            if workflow.patched(LOCAL_APPEND):
                result = await workflow.execute_local_activity(
                    APPEND_EVENTS,
                    AppendEventsInput(events=batch, catch_up=True),
                    result_type=AppendEventsResult,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=APPEND_RETRY,
                )
            else:
                result = await workflow.execute_activity(
                    APPEND_EVENTS,
                    AppendEventsInput(events=batch),
                    result_type=AppendEventsResult,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=APPEND_RETRY,
                )
        except ActivityError:
            workflow.logger.error("event append failed; retrying", extra=self._log_context())
            await workflow.sleep(timedelta(seconds=30))
            return
        if result.stored:
            self._catch_up(result.stored)
            return
        del self._outbox[: len(batch)]
        self._stored_state = evolve_all(self._stored_state, batch)
        stored = self._stored_state.version
        self._queued = {key: item for key, item in self._queued.items() if item[1] > stored}
        self._after_stored(batch)

    def _after_stored(self, stored: list[Event]) -> None:
        """What stored events set off: notifications, and the visa workflows' lives."""
        for event in stored:
            if event.type in NOTIFIED_EVENTS:
                if workflow.patched("notify-overdue"):
                    # Cases recorded before notifications existed replay without them.
                    self._notify_about(event)
            elif isinstance(event.data, ev.VISA_EVENTS):
                self._follow_visa(event)
            elif isinstance(event.data, ev.REFERRAL_EVENTS):
                self._follow_referral(event.data)

    def _catch_up(self, stored: list[Event]) -> None:
        """Adopt events the store holds but this run did not decide, then decide again.

        They were decided by a lost task from the very state stored before them, so they
        are valid; every command still waiting is decided again on top of them, or
        answered from them when they are its own events decided earlier.
        """
        workflow.logger.warning(
            "adopting events stored by a lost workflow task",
            extra=self._log_context(count=str(len(stored))),
        )
        for event in stored:
            self._adopted[decision_key_of(event.event_id)] = event
        while len(self._adopted) > ADOPTED_KEPT:
            del self._adopted[next(iter(self._adopted))]
        waiting = list(self._queued.items())
        self._queued.clear()
        self._outbox.clear()
        self._state = self._stored_state = evolve_all(self._stored_state, stored)
        self._after_stored(stored)
        for key, (command, _) in waiting:
            handled = key in self._recent  # an update waits on it; timer commands do not
            result = self._adopted_result(command.command_id)
            if result is None:
                try:
                    result = self._apply(key, command)
                except DomainError as error:
                    if handled:
                        del self._recent[key]
                        self._refused[key] = error
                    continue
            if handled:
                self._recent[key] = result
        self._next_fire = next_fire_time(self._state)
        self._publish_attributes()

    # --- visas --------------------------------------------------------------------------------

    def _follow_visa(self, event: Event) -> None:
        """Start, move on or stop the visa's own workflow; notify its reminders and expiry."""
        data = event.data
        if isinstance(data, ev.VisaRegistered):
            inp = VisaWorkflowInput(
                visa_id=data.visa_id,
                case_id=event.case_id,
                expires_on=data.expires_on,
                policy=data.policy,
                sent=self._state.visas[data.visa_id].reminders_sent,
            )
            self._visa_call(self._start_visa_workflow(inp))
        elif isinstance(data, ev.VisaRenewed):
            self._visa_call(self._signal_visa(data.visa_id, "renewed", data.expires_on))
        elif isinstance(data, ev.VisaCancelled):
            self._visa_call(self._signal_visa(data.visa_id, "cancelled"))
        elif isinstance(data, ev.VisaReminderSent | ev.VisaExpired):
            self._notify_visa(event, data)

    def _visa_call(self, call: Any) -> None:
        self._visa_calls += 1
        task = asyncio.ensure_future(call)
        task.add_done_callback(lambda _: self._visa_done())

    def _visa_done(self) -> None:
        self._visa_calls -= 1

    async def _start_visa_workflow(self, inp: VisaWorkflowInput) -> None:
        try:
            await workflow.start_child_workflow(
                VisaRenewalWorkflow.run,
                inp,
                id=visa_workflow_id(inp.visa_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except Exception as error:  # already started (adopted events): it runs, all is well
            workflow.logger.warning(
                "visa workflow not started", extra=self._log_context(error=type(error).__name__)
            )

    async def _signal_visa(self, visa_id: UUID, signal: str, *args: Any) -> None:
        handle = workflow.get_external_workflow_handle(visa_workflow_id(visa_id))
        try:
            await handle.signal(signal, *args)
        except Exception as error:  # it ended (cancelled): nothing left to move on
            workflow.logger.warning(
                "visa workflow not signalled", extra=self._log_context(error=type(error).__name__)
            )

    def _notify_visa(self, event: Event, data: ev.VisaReminderSent | ev.VisaExpired) -> None:
        visa = self._state.visas[data.visa_id]
        params = {
            "visa_id": str(data.visa_id),
            "visa_kind": visa.kind.value,
            "expires_on": data.expires_on.isoformat(),
        }
        supervisors = True
        kind = "visa_expired"
        if isinstance(data, ev.VisaReminderSent):
            kind, supervisors = "visa_expiring", data.to_supervisor
            params["days"] = str(data.days)
        self._start_notice(
            NotifyInput(
                notification_id=uuid5(event.event_id, "notify"),
                case_id=event.case_id,
                kind=kind,
                params=params,
                to_users=[self._state.assigned_to] if self._state.assigned_to else [],
                to_supervisors_of=self._state.institution if supervisors else None,
            )
        )

    # --- referrals ----------------------------------------------------------------------------

    def _follow_referral(self, data: Any) -> None:
        """Deliver a new referral; stop delivering one that is no longer live."""
        if not workflow.patched(REFERRAL_DELIVERY):
            return  # recorded before referrals were delivered: they replay without it
        new = data.referral_id if isinstance(data, ev.StepReferred) else None
        if isinstance(data, ev.ReferralRedirected):
            new = data.new_referral_id
        waiting = self._state.referrals.get(new) if new is not None else None
        if waiting is not None and waiting.awaits_delivery:  # an inbox's is delivered already
            self._deliver(waiting.referral_id)
        referral = self._state.referrals.get(getattr(data, "referral_id", None))  # type: ignore[arg-type]
        if referral is not None and referral.final:
            delivery = self._deliveries.pop(referral.referral_id, None)
            if delivery is not None:
                delivery.cancel()

    def _resume_deliveries(self) -> None:
        """A new run (continue-as-new) takes up the deliveries its predecessor left."""
        waiting = [r.referral_id for r in self._state.referrals.values() if r.awaits_delivery]
        if waiting and workflow.patched(REFERRAL_DELIVERY):
            for referral_id in waiting:
                self._deliver(referral_id)

    def _deliver(self, referral_id: UUID) -> None:
        if referral_id not in self._deliveries:
            self._deliveries[referral_id] = asyncio.create_task(self._delivery(referral_id))

    async def _delivery(self, referral_id: UUID) -> None:
        """Deliver over the institution's channel, retried with backoff for as long as it
        takes (an institution that is down never fails the case; the board shows
        `delivery_failing`), then record it. Revoking or redirecting cancels it."""
        assert self._state.case_id is not None
        backoff = timedelta(seconds=self._input.delivery_backoff_seconds)
        try:
            result = await workflow.execute_activity(
                DELIVER_REFERRAL,
                DeliverReferralInput(referral_id=referral_id, case_id=self._state.case_id),
                result_type=DeliverReferralResult,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(
                    initial_interval=backoff,
                    backoff_coefficient=2.0,
                    maximum_interval=max(backoff, DELIVERY_MAX_INTERVAL),
                ),
            )
        except asyncio.CancelledError:
            return  # no longer live: nothing to deliver
        except ActivityError as error:  # pragma: no cover - retried without limit
            workflow.logger.error(
                "referral delivery gave up", extra=self._log_context(error=type(error).__name__)
            )
            return
        finally:
            self._deliveries.pop(referral_id, None)
        if result.channel is None:
            return
        command = cmd.RecordReferralDelivered(
            command_id=uuid5(referral_id, "delivered"),
            actor=SYSTEM_ACTOR,
            at=workflow.now(),
            referral_id=referral_id,
            channel=result.channel,
        )
        try:
            self._apply(str(command.command_id), command)
        except DomainError as error:  # answered, revoked or redirected meanwhile
            workflow.logger.info(
                "referral delivery not recorded", extra=self._log_context(code=error.code)
            )

    # --- notifications ------------------------------------------------------------------------

    def _notify_about(self, event: Event) -> None:
        """Tell the people of the case's current assignment; never blocks the case."""
        kind = NOTIFIED_EVENTS.get(event.type)
        if kind is None:
            return
        step = getattr(event.data, "step", None)
        notice = NotifyInput(
            notification_id=uuid5(event.event_id, "notify"),
            case_id=event.case_id,
            kind=kind,
            params={"step": step.value if step else "", "since": event.occurred_at.isoformat()},
            to_users=[self._state.assigned_to] if self._state.assigned_to else [],
            to_supervisors_of=self._state.institution,
        )
        self._start_notice(notice)

    def _start_notice(self, notice: NotifyInput) -> None:
        key = str(notice.notification_id)
        self._notices[key] = notice
        handle = workflow.start_activity(
            NOTIFY,
            notice,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=NOTIFY_RETRY,
        )
        handle.add_done_callback(lambda _: self._notices.pop(key, None))

    # --- SLA timers ---------------------------------------------------------------------------

    async def _sla_timers(self) -> None:
        """Sleep until the next SLA moment; re-arm only when the deadline itself changes."""
        while self._state.is_open:
            fire_at = self._next_fire
            if fire_at is None:
                await workflow.wait_condition(lambda: self._next_fire is not None)
                continue
            delay = (fire_at - workflow.now()).total_seconds()
            if delay > 0:
                try:
                    await workflow.wait_condition(
                        lambda fire_at=fire_at: self._next_fire != fire_at,  # type: ignore[misc]
                        timeout=timedelta(seconds=delay),
                    )
                    continue
                except TimeoutError:
                    pass
            self._fire_due()

    def _fire_due(self) -> None:
        now = workflow.now()
        for deadline in due_now(self._state, now):
            kind = cmd.RecordOverdue if deadline.kind == "overdue" else cmd.EscalateOverdue
            command = kind(
                command_id=workflow.uuid4(), actor=SYSTEM_ACTOR, at=now, step=deadline.step
            )
            try:
                self._apply(str(command.command_id), command)
            except DomainError as error:  # pragma: no cover - deadlines come from the state
                workflow.logger.warning(
                    "SLA timer refused", extra=self._log_context(code=error.code)
                )
                continue
            event = "step overdue" if deadline.kind == "overdue" else "overdue step escalated"
            workflow.logger.info(event, extra=self._log_context(step=deadline.step.value))

    # --- run bookkeeping ------------------------------------------------------------------------

    def _finished(self) -> bool:
        return (
            self._state.status is CaseStatus.CLOSED
            and not self._state.follows_visas
            and not self._visa_calls
            and not self._deliveries
            and not self._outbox
            and not self._notices
            and workflow.all_handlers_finished()
        )

    def _continue_due(self) -> bool:
        if self._updates >= self._input.max_updates_per_run:
            return True
        return workflow.info().is_continue_as_new_suggested()

    def _carry_over(self) -> CaseWorkflowInput:
        return self._input.model_copy(
            update={
                "state": self._state,
                "recent_commands": self._recent,
                # Unfinished notifications start again in the next run (idempotent by id).
                "pending_notices": list(self._notices.values()),
            }
        )

    def _result(self) -> CaseResult:
        return CaseResult(
            case_id=self._input.case_id,
            status=self._state.status.value,
            version=self._state.version,
        )

    def _log_context(self, **fields: str) -> dict[str, str]:
        """Log fields: the case id, never anything about the person."""
        return {"case_id": str(self._input.case_id), **fields}

    def _publish_attributes(self) -> None:
        """Opaque, non-personal search attributes; upserted only when they change."""
        state = self._state
        open_steps = state.open_steps()
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.CASE_STATUS.value_set(state.status.value),
            sa.CASE_OVERDUE.value_set(any(s.overdue for s in open_steps)),
            sa.CASE_OPEN_STEPS.value_set([s.step.value for s in open_steps]),
            sa.ASSIGNED_TO.value_set(state.assigned_to or ""),
            sa.CRIME_TYPE.value_set(state.crime_type.value if state.crime_type else ""),
        ]
        if state.status is not CaseStatus.NEW and updates != self._attributes:
            workflow.upsert_search_attributes(updates)
            self._attributes = updates
