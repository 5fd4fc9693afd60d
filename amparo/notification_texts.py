"""What a notification says, in Spanish (first) and English: short, and no personal data.

Templates see only the notification's kind, case id and params (step names, dates,
codes), so nothing else can end up in an inbox or an email. A kind without a template
still renders, generically, so a new kind never fails a delivery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

DEFAULT_LANGUAGE = "es"
MISSING = "-"


@dataclass(frozen=True)
class Text:
    """A rendered notification: a subject line, and a body of a few lines."""

    subject: str
    body: str


# kind -> language -> (subject, first line of the body); `{case_id}` and any param.
TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "step_overdue": {
        "es": ("Paso vencido: {step} del caso {case_id}", "Vencido desde {since}."),
        "en": ("Step overdue: {step} of case {case_id}", "Overdue since {since}."),
    },
    "step_escalated": {
        "es": (
            "Paso vencido sin atender: {step} del caso {case_id}",
            "Sigue vencido al {since} (segunda alerta).",
        ),
        "en": (
            "Step still overdue: {step} of case {case_id}",
            "Still overdue as of {since} (second alert).",
        ),
    },
    "step_stale": {
        "es": ("Paso sin movimiento: {step} del caso {case_id}", "Sin novedades desde {since}."),
        "en": ("Step without progress: {step} of case {case_id}", "Nothing new since {since}."),
    },
    "case_assigned": {
        "es": ("Caso asignado: {case_id}", "Se le asignó el caso {case_id}."),
        "en": ("Case assigned: {case_id}", "Case {case_id} was assigned to you."),
    },
    "referral_received": {
        "es": ("Nueva derivación: {step} del caso {case_id}", "Espera su respuesta."),
        "en": ("New referral: {step} of case {case_id}", "It awaits your answer."),
    },
    "referral_answered": {
        "es": ("Derivación respondida: {step} del caso {case_id}", "Respuesta: {decision}."),
        "en": ("Referral answered: {step} of case {case_id}", "Answer: {decision}."),
    },
    "closure_requested": {
        "es": ("Cierre solicitado: caso {case_id}", "Motivo: {reason}. Espera su decisión."),
        "en": ("Closure requested: case {case_id}", "Reason: {reason}. It awaits your decision."),
    },
    "closure_decided": {
        "es": ("Cierre decidido: caso {case_id}", "Decisión: {decision}."),
        "en": ("Closure decided: case {case_id}", "Decision: {decision}."),
    },
    "visa_expiring": {
        "es": (
            "Visa por vencer: caso {case_id}",
            "La visa {visa_kind} vence el {expires_on} (en {days} días).",
        ),
        "en": (
            "Visa expiring: case {case_id}",
            "The {visa_kind} visa expires on {expires_on} (in {days} days).",
        ),
    },
    "visa_expired": {
        "es": ("Visa vencida: caso {case_id}", "La visa {visa_kind} venció el {expires_on}."),
        "en": ("Visa expired: case {case_id}", "The {visa_kind} visa expired on {expires_on}."),
    },
}

GENERIC = {
    "es": ("Aviso de Amparo ({kind}) del caso {case_id}", "Hay una novedad."),
    "en": ("Amparo notice ({kind}) on case {case_id}", "There is news."),
}

CLOSING = {
    "es": "Abra Amparo para ver el detalle.",
    "en": "Open Amparo to see the details.",
}

# param -> language -> code -> words; codes without words here show as they are.
LABELS: dict[str, dict[str, dict[str, str]]] = {
    "step": {
        "es": {
            "identification": "identificación",
            "shelter": "alojamiento",
            "health": "salud",
            "legal": "asistencia legal",
            "documentation": "documentación",
            "return_reintegration": "retorno y reintegración",
        },
        "en": {
            "identification": "identification",
            "shelter": "shelter",
            "health": "health",
            "legal": "legal assistance",
            "documentation": "documentation",
            "return_reintegration": "return and reintegration",
        },
    },
    "visa_kind": {
        "es": {
            "work": "de trabajo",
            "residence": "de residencia",
            "temporary_residence": "de residencia temporal",
            "humanitarian": "humanitaria",
        },
        "en": {"temporary_residence": "temporary residence"},
    },
}


class _Params(dict[str, str]):
    """Template values; a param the caller did not give shows as a dash, never fails."""

    def __missing__(self, key: str) -> str:
        return MISSING


def _moment(value: str) -> str:
    """An ISO date-time as `YYYY-MM-DD HH:MM UTC`; anything else unchanged."""
    if "T" not in value:
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _label(language: str, key: str, value: str) -> str:
    words = LABELS.get(key, {}).get(language, {})
    return words.get(value) or _moment(value)


def _values(language: str, kind: str, case_id: UUID | None, params: Mapping[str, str]) -> _Params:
    values = _Params({key: _label(language, key, value) for key, value in params.items()})
    values["case_id"] = str(case_id) if case_id else MISSING
    values["kind"] = kind
    return values


def render(kind: str, language: str, *, case_id: UUID | None, params: Mapping[str, str]) -> Text:
    """The notification in `language` (Spanish when it is not one we have)."""
    language = language if language in CLOSING else DEFAULT_LANGUAGE
    subject, line = TEMPLATES.get(kind, GENERIC)[language]
    values = _values(language, kind, case_id, params)
    body = f"{line.format_map(values)}\n\n{CLOSING[language]}\n"
    return Text(subject=subject.format_map(values), body=body)
