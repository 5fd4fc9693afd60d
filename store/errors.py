"""Store failures. A version conflict is a bug (a case has one writer), never a retry."""

from __future__ import annotations

from uuid import UUID


class StoreError(Exception):
    """The store refused a write; nothing of it was stored."""


class VersionConflict(StoreError):
    """An event does not fit its case's stream: the version is taken or skips ahead."""

    def __init__(self, case_id: UUID, version: int, detail: str) -> None:
        super().__init__(f"case {case_id}, version {version}: {detail}")
        self.case_id = case_id
        self.version = version
