"""Sending commands to case workflows, and turning Temporal's answers into stable codes.

The one place the API and the CLI go through to change a case: commands become Updates
(their id is the command id, so a retried request is deduplicated by Temporal), and a
refusal comes back as `CommandRefused` with the domain's code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any
from uuid import UUID

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from amparo.settings import Settings
from domain import CaseState
from domain import commands as cmd
from workflows.case import ProtectionCaseWorkflow
from workflows.contracts import CaseWorkflowInput, CommandResult, case_workflow_id

# Pauses before sending again an update aborted by a failed workflow task (see `_update`).
_ABORTED_PAUSES = (0.05, 0.1, 0.2, 0.4)

# Commands people send to an open case (the SLA timers' own commands never come from outside).
PersonCommand = (
    cmd.AssignCase
    | cmd.AdvanceStep
    | cmd.AddNote
    | cmd.GiveConsent
    | cmd.WithdrawConsent
    | cmd.RequestClosure
    | cmd.DecideClosure
    | cmd.AcknowledgeOverdue
    | cmd.RegisterVisa
    | cmd.RenewVisa
    | cmd.CancelVisa
    | cmd.AnswerReferral
    | cmd.RevokeReferral
    | cmd.RedirectReferral
    | cmd.ErasePerson
)


class CommandRefused(Exception):
    """The case refused the command (or does not exist); `code` is stable."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class CommandPending(Exception):
    """No answer in time (the worker or the database is down): the command may still apply.

    Sending it again with the same id is safe: it is applied at most once, and the retry
    gets the answer.
    """


class CaseCommands:
    """Commands to case workflows through one Temporal client."""

    def __init__(
        self,
        client: Client,
        *,
        task_queue: str,
        max_updates_per_run: int = 1000,
        answer_within: float = 20.0,
        delivery_backoff_seconds: float = 5.0,
    ):
        self._client = client
        self._task_queue = task_queue
        self._max_updates = max_updates_per_run
        self._answer_within = answer_within
        self._delivery_backoff = delivery_backoff_seconds

    @classmethod
    def from_settings(cls, client: Client, settings: Settings) -> CaseCommands:
        """Commands as configured: the task queue and what new case workflows start with."""
        return cls(
            client,
            task_queue=settings.task_queue,
            max_updates_per_run=settings.max_updates_per_run,
            answer_within=settings.command_timeout_seconds,
            delivery_backoff_seconds=settings.delivery_backoff_seconds,
        )

    async def open(self, command: cmd.OpenCase) -> CommandResult:
        """Start the case's workflow and open the case in it, in one round trip."""
        start = WithStartWorkflowOperation(
            ProtectionCaseWorkflow.run,
            CaseWorkflowInput(
                case_id=command.case_id,
                max_updates_per_run=self._max_updates,
                delivery_backoff_seconds=self._delivery_backoff,
            ),
            id=case_workflow_id(command.case_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # A closed case's id is never reused: its stream already has version 1.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        try:
            return await self._in_time(
                self._client.execute_update_with_start_workflow(
                    ProtectionCaseWorkflow.open_case,
                    command,
                    start_workflow_operation=start,
                    id=str(command.command_id),
                )
            )
        except WorkflowAlreadyStartedError:
            raise CommandRefused("case_already_open", "a case with this id exists") from None
        except WorkflowUpdateFailedError as error:
            raise _refusal(error) from None
        except RPCError as error:
            if error.status is RPCStatusCode.ALREADY_EXISTS:
                raise CommandRefused("case_already_open", "a case with this id exists") from None
            raise
        finally:
            _read_start_outcome(start)

    async def send(self, case_id: UUID, command: PersonCommand) -> CommandResult:
        """Send any other command to its case; returns once its events are stored."""
        try:
            return await self._in_time(self._update(case_id, command))
        except WorkflowUpdateFailedError as error:
            raise _refusal(error) from None
        except RPCError as error:
            raise await self._missing(case_id, error) from None

    async def _update(self, case_id: UUID, command: PersonCommand) -> CommandResult:
        handle = self._client.get_workflow_handle(case_workflow_id(case_id))
        # Each command kind is the name of the workflow update that carries it.
        for pause in _ABORTED_PAUSES:
            try:
                return await handle.execute_update(
                    command.kind, command, id=str(command.command_id), result_type=CommandResult
                )
            except RPCError as error:
                # The server aborts an update that arrived while the workflow task ending
                # the run failed (FAILED_PRECONDITION): nothing was applied, and the same
                # update id sent again lands on the next task or finds the run ended.
                if error.status is not RPCStatusCode.FAILED_PRECONDITION:
                    raise
                await asyncio.sleep(pause)
        return await handle.execute_update(
            command.kind, command, id=str(command.command_id), result_type=CommandResult
        )

    async def _in_time(self, call: Awaitable[CommandResult]) -> CommandResult:
        try:
            return await asyncio.wait_for(call, self._answer_within)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise CommandPending(f"no answer within {self._answer_within:g} s") from None

    async def current(self, case_id: UUID) -> CaseState:
        """The case as its workflow holds it (used where the projection may lag, e.g. tests)."""
        handle = self._client.get_workflow_handle(case_workflow_id(case_id))
        try:
            return await handle.query(ProtectionCaseWorkflow.case)
        except RPCError as error:
            raise await self._missing(case_id, error) from None

    async def _missing(self, case_id: UUID, error: RPCError) -> Exception:
        if error.status is not RPCStatusCode.NOT_FOUND:
            return error
        try:
            await self._client.get_workflow_handle(case_workflow_id(case_id)).describe()
        except RPCError:
            return CommandRefused("case_not_found", "no such case")
        return CommandRefused("case_closed", "the case is closed and accepts no more changes")


def _read_start_outcome(start: WithStartWorkflowOperation[Any, Any]) -> None:
    """Read the start's outcome, which the SDK keeps in a future only `workflow_handle()`
    awaits: when the start failed (the case exists, no answer in time), that future holds
    the error, and asyncio would log it as "Future exception was never retrieved" (an
    ERROR line with a traceback) once it is collected. Not awaited: it may never settle
    if the call failed before reaching the server."""
    future = getattr(start, "_workflow_handle", None)
    if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
        future.exception()


def _refusal(error: WorkflowUpdateFailedError) -> CommandRefused:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return CommandRefused(cause.type, cause.message)
    return CommandRefused("command_failed", str(cause))
