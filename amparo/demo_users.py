"""The demo's users, one or more per role, matching the institutions of the demo cases.

Their passwords are fixed and readable on purpose: `make run` prints them so anyone can
sign in to the demo. Demo data only: never load these into a real deployment.
"""

from __future__ import annotations

from typing import NamedTuple

from amparo.users import Role, UserDirectory


class DemoUser(NamedTuple):
    """A demo user and the password `make run` prints for it."""

    username: str
    role: Role
    institution: str | None
    password: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("ana.martinez", Role.CASEWORKER, "procuraduria-pett", "amparo-demo-ana"),
    DemoUser("luis.fernandez", Role.CASEWORKER, "procuraduria-pett", "amparo-demo-luis"),
    DemoUser("carmen.rosario", Role.CASEWORKER, "migracion", "amparo-demo-carmen"),
    DemoUser("jose.santana", Role.CASEWORKER, "migracion", "amparo-demo-jose"),
    DemoUser("sofia.reyes", Role.SUPERVISOR, "procuraduria-pett", "amparo-demo-sofia"),
    DemoUser("miguel.batista", Role.SUPERVISOR, "migracion", "amparo-demo-miguel"),
    DemoUser("hermana.lucia", Role.INSTITUTION, "hogar-oblatas", "amparo-demo-lucia"),
    DemoUser("dr.vargas", Role.INSTITUTION, "salud-publica", "amparo-demo-vargas"),
    DemoUser("oficina.visas", Role.INSTITUTION, "migracion", "amparo-demo-visas"),
    DemoUser("fiscal.pett", Role.INSTITUTION, "procuraduria-pett", "amparo-demo-fiscal"),
    DemoUser("gcps.reintegracion", Role.INSTITUTION, "gcps-reintegracion", "amparo-demo-gcps"),
    DemoUser("analista", Role.ANALYST, None, "amparo-demo-analista"),
    DemoUser("admin", Role.ADMIN, None, "amparo-demo-admin"),
)


def ensure_demo_users(directory: UserDirectory) -> list[DemoUser]:
    """Create the demo users not there yet; return them all, to print their passwords.

    All of them, not only the new ones, so every `make run` shows how to sign in. A demo
    user that already exists is left as it is (its password may have been changed).
    """
    for user in DEMO_USERS:
        if directory.get(user.username) is None:
            directory.add(
                user.username, role=user.role, password=user.password, institution=user.institution
            )
    return list(DEMO_USERS)
