"""`make run`'s demo, as its users meet it: the shelter's user (`amparo dev --demo`'s
hermana.lucia) signs in, sees the referrals her institution received, accepts one and
completes another; the caseworker of each case then sees its step move."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from amparo.demo_users import DEMO_USERS
from tests.e2e.test_dev_stack import Stack

PASSWORDS = {user.username: user.password for user in DEMO_USERS}
CASEWORKERS = [user.username for user in DEMO_USERS if user.role == "caseworker"]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Stack]:
    running = Stack(tmp_path / "data", demo=True)
    running.start()
    try:
        yield running
    finally:
        if running.proc is not None:
            running.stop()


def ok(stack: Stack, *args: str, stdin: str = "") -> str:
    done = stack.cli(*args, stdin=stdin)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def sign_in(stack: Stack, username: str) -> None:
    ok(stack, "login", username, stdin=PASSWORDS[username] + "\n")


def listed(stack: Stack, state: str) -> list[list[str]]:
    """The rows of `amparo referral list --state STATE` (under the header and its rule)."""
    lines = ok(stack, "referral", "list", "--state", state, "--limit", "200").splitlines()
    assert lines[0].split()[:4] == ["referral", "step", "institution", "state"]
    return [line.split() for line in lines[2:] if line != "(none)"]


def case_of(stack: Stack, referral_id: str) -> tuple[str, str]:
    """The caseworker who sees the referral's case, and the case id."""
    for caseworker in CASEWORKERS:
        sign_in(stack, caseworker)
        shown = stack.cli("referral", "show", referral_id)
        if shown.returncode == 0 and " case " in shown.stdout.splitlines()[0]:
            return caseworker, shown.stdout.splitlines()[0].rsplit(" case ", 1)[1].strip()
    raise AssertionError(f"no demo caseworker sees referral {referral_id}")


def step_state(stack: Stack, case_id: str, step: str) -> str:
    for line in ok(stack, "case", "show", case_id).splitlines():
        cells = line.split()
        if cells and cells[0] == step:
            return cells[1]
    raise AssertionError(f"no {step} row in case {case_id}")


@pytest.mark.timeout(600)
def test_the_shelter_answers_its_demo_referrals_and_the_caseworker_sees_the_steps_move(
    demo: Stack,
) -> None:
    sign_in(demo, "hermana.lucia")
    waiting = listed(demo, "delivered")
    working = listed(demo, "accepted")
    assert waiting and working, "the demo leaves shelter referrals waiting and accepted"
    assert {row[1] for row in waiting + working} == {"shelter"}
    assert {row[2] for row in waiting + working} == {"hogar-oblatas"}
    shown = ok(demo, "referral", "show", waiting[0][0])
    assert "person.given_name: " in shown and "person.birth_date" not in shown  # shares only
    everything = ok(demo, "referral", "list", "--limit", "200")
    assert "salud-publica" not in everything  # another institution's referrals stay hidden

    accepted, completed = waiting[0][0], working[0][0]
    assert "accepted" in ok(demo, "referral", "answer", accepted, "accepted")
    assert "completed" in ok(
        demo, "referral", "answer", completed, "completed", "--reference", "HO-2026-17"
    )
    again = demo.cli("referral", "answer", completed, "declined", "--note", "no beds")
    assert again.returncode == 1
    assert again.stderr.strip().startswith("error: ")  # final already: one line, a 409
    assert len(again.stderr.strip().splitlines()) == 1
    assert accepted not in {row[0] for row in listed(demo, "delivered")}

    for referral_id, state in ((accepted, "in_progress"), (completed, "completed")):
        _, case_id = case_of(demo, referral_id)  # signed in as that caseworker
        assert step_state(demo, case_id, "shelter") == state
