"""The institution registry file: the demo one loads and covers the demo's referrals; each
kind of wrong entry fails with one line naming the file, the institution and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from amparo.demo import REFER_TO
from amparo.institutions import DEMO_REGISTRY, RegistryError, load_registry, registry_for
from amparo.settings import Settings, SettingsError
from domain.institutions import DEFAULT_SHARED, SharedField, WebhookChannel
from domain.vocabulary import Channel, Step

SECRET = "s3cret-s3cret-s3cret"
INBOX = """
[[institution]]
id = "hogar-oblatas"
name = "Hogar"
steps = ["shelter"]
channel = { kind = "inbox" }
"""


def webhook(channel: str) -> str:
    return f"""
[[institution]]
id = "gcps-reintegracion"
name = "GCPS"
steps = ["return_reintegration"]
channel = {{ kind = "webhook", url = "http://127.0.0.1:8099/referrals", {channel} }}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "institutions.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(RegistryError) as refused:
        load_registry(path, environ=environ or {})
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert SECRET not in message
    return message.removeprefix(f"{path}: ")


def test_the_demo_registry_serves_every_referral_of_the_demo_data() -> None:
    registry = load_registry(DEMO_REGISTRY)
    for step, institution in REFER_TO.items():
        assert registry.target(institution, Step(step)).id == institution
    kinds = {i.channel.kind for i in registry.institutions}
    assert kinds == set(Channel)  # the demo shows every channel
    assert all(i.shares == DEFAULT_SHARED for i in registry.institutions)
    consular = registry.get("cancilleria-consular")
    assert consular is not None
    assert consular.steps == {Step.DOCUMENTATION, Step.RETURN_REINTEGRATION}


def test_the_demo_registry_ships_in_the_package() -> None:
    assert DEMO_REGISTRY.parent.name == "amparo"
    assert DEMO_REGISTRY.is_file()


def test_registry_for_reads_the_configured_file_once(tmp_path: Path) -> None:
    path = write(tmp_path, INBOX)
    first = registry_for(Settings(institutions_file=path))
    path.write_text("not toml at all [", encoding="utf-8")  # read at start only
    assert registry_for(Settings(institutions_file=path)) is first
    assert [i.id for i in first.institutions] == ["hogar-oblatas"]
    assert registry_for(Settings(institutions_file=None)).get("gcps-reintegracion") is not None


def test_shares_and_a_secret_from_the_environment(tmp_path: Path) -> None:
    text = (
        INBOX
        + 'shares = ["given_name", "birth_date"]\n'
        + webhook('secret_env = "GCPS_SECRET", timeout_seconds = 2.5')
    )
    registry = load_registry(write(tmp_path, text), environ={"GCPS_SECRET": SECRET})
    hogar, gcps = registry.institutions
    assert hogar.shares == {SharedField.GIVEN_NAME, SharedField.BIRTH_DATE}
    assert isinstance(gcps.channel, WebhookChannel)
    assert gcps.channel.secret.get_secret_value() == SECRET
    assert gcps.channel.timeout_seconds == 2.5
    assert SECRET not in repr(registry)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            INBOX + webhook('secret_env = "GCPS_SECRET"').replace("http://127.0.0.1:8099", "nope"),
            "institution 2 (gcps-reintegracion): channel.url: Input should be a valid URL",
        ),
        (
            webhook('secret = "short"'),
            "institution 1 (gcps-reintegracion): channel.secret: Value should have at least 16",
        ),
        (
            webhook('secret_env = "NOT_SET"'),
            "institution 1 (gcps-reintegracion): channel.secret_env: environment variable "
            "NOT_SET is not set",
        ),
        (
            webhook(f'secret = "{SECRET}", secret_env = "GCPS_SECRET"'),
            "institution 1 (gcps-reintegracion): channel: give secret or secret_env, not both",
        ),
        (
            webhook(f'secret = "{SECRET}", timeout_seconds = 0'),
            "institution 1 (gcps-reintegracion): channel.timeout_seconds: Input should be greater",
        ),
        (
            INBOX.replace('["shelter"]', '["shelter", "housing"]'),
            "institution 1 (hogar-oblatas): steps[1]: Input should be 'identification', ",
        ),
        (INBOX.replace('"shelter"', ""), "institution 1 (hogar-oblatas): steps: "),
        (INBOX + "colour = 'blue'\n", "institution 1 (hogar-oblatas): colour: Extra inputs"),
        (INBOX + 'shares = ["address"]\n', "institution 1 (hogar-oblatas): shares[0]: Input"),
        (
            INBOX.replace('"inbox" }', '"inbox", address = "a@b.example" }'),
            "institution 1 (hogar-oblatas): channel.address: Extra inputs are not permitted",
        ),
        (
            INBOX.replace('"inbox"', '"email", address = "nobody"'),
            "institution 1 (hogar-oblatas): channel.address: Value error, must be an email",
        ),
        (
            INBOX.replace('"inbox"', '"pigeon"'),
            "institution 1 (hogar-oblatas): channel: Input tag 'pigeon' found using 'kind'",
        ),
        (
            INBOX.replace('name = "Hogar"\n', ""),
            "institution 1 (hogar-oblatas): name: Field required",
        ),
        (INBOX.replace("hogar-oblatas", "Hogar Oblatas"), "institution 1 (Hogar Oblatas): id: "),
        (INBOX.replace('id = "hogar-oblatas"\n', ""), "institution 1: id: Field required"),
        (INBOX + INBOX, "institution 2 (hogar-oblatas): id: already used by institution 1"),
        (INBOX.replace("[[institution]]", "[[institutions]]"), "institutions: unknown key"),
        ("institution = 3\n", "no [[institution]] entries"),
        ("", "no [[institution]] entries"),
        ("institution = [1]\n", "institution 1: must be a table"),
        (INBOX.replace("channel = {", "channel = {{"), "not valid TOML: "),
    ],
)
def test_a_wrong_entry_is_one_line_naming_file_institution_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    environ = {"GCPS_SECRET": SECRET}
    assert refusal(write(tmp_path, text), environ).startswith(expected)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    assert refusal(path) == "cannot read the file (No such file or directory)"


def test_registry_errors_are_settings_errors() -> None:
    """The commands that start Amparo print settings errors as one line and exit."""
    assert issubclass(RegistryError, SettingsError)
