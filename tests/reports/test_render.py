"""The report's three formats: JSON round-trips, CSV and HTML agree with it number by number,
public charts hide what the tables suppress, and the page prints in a real browser."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from domain.vocabulary import CrimeType, Step
from reports.model import (
    SUPPRESSED,
    Breakdown,
    CrimeFigures,
    Dimension,
    Indicator,
    StatisticsReport,
    StepDuration,
    Variant,
)
from reports.render import CSV_COLUMNS, MEDIA_TYPES, render, to_csv, to_html, to_json
from tests.reports.sample import many_nationalities, nationality_codes, report

FULL, PUBLIC = report(Variant.FULL), report(Variant.PUBLIC)
BOTH = pytest.mark.parametrize("sample", [FULL, PUBLIC], ids=["full", "public"])


# --- reading what was rendered ------------------------------------------------------------


class _Page(HTMLParser):
    """The page's tables as rows of cell texts, and its charts' texts by aria-label."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[tuple[str, list[list[str]]]] = []
        self.charts: dict[str, list[str]] = {}
        self._cell: list[str] | None = None
        self._chart: str | None = None
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self.tables.append((attributes.get("class") or "", []))
        elif tag == "tr":
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "svg":
            self._chart = attributes["aria-label"] or ""
            self.charts[self._chart] = []
        elif tag == "text" and self._chart is not None:
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "text" and self._text is not None and self._chart is not None:
            self.charts[self._chart].append("".join(self._text).strip())
            self._text = None
        elif tag == "svg":
            self._chart = None

    def handle_data(self, data: str) -> None:
        for sink in (self._cell, self._text):
            if sink is not None:
                sink.append(data)


def read_page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def table_after(html: str, heading: str) -> list[list[str]]:
    """The rows of the first table after the heading whose text is `heading`."""
    start = html.index(f">{heading}</h")
    return read_page(html[start:].split(">", 1)[1]).tables[0][1]


def number(text: str) -> Any:
    """A CSV value as JSON has it: int, float, "<5", or None for an empty cell."""
    if text == "":
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def json_numbers(document: dict[str, Any]) -> dict[tuple[str, str, str, str], Any]:
    """Every number in the JSON, keyed as the CSV's first four columns."""
    found: dict[tuple[str, str, str, str], Any] = {}
    for figures in document["figures"]:
        for indicator, value in figures["values"].items():
            found["indicator", figures["crime_type"], indicator, ""] = value
    for breakdown in document["breakdowns"]:
        for category, value in breakdown["counts"].items():
            found["breakdown", breakdown["crime_type"], breakdown["dimension"], category] = value
    for duration in document["step_durations"]:
        for measure in ("completed", "median_days", "p90_days"):
            key = ("step_duration", duration["crime_type"], duration["step"], measure)
            found[key] = duration[measure]
    return found


# --- JSON and CSV -------------------------------------------------------------------------


@BOTH
def test_json_round_trips(sample: StatisticsReport) -> None:
    assert StatisticsReport.model_validate_json(to_json(sample)) == sample


@BOTH
def test_every_csv_number_is_the_jsons(sample: StatisticsReport) -> None:
    document = json.loads(to_json(sample))
    rows = list(csv.DictReader(io.StringIO(to_csv(sample))))
    assert tuple(rows[0]) == CSV_COLUMNS
    numbers = {
        (r["section"], r["crime_type"], r["item"], r["category"]): number(r["value"])
        for r in rows
        if r["section"] != "meta"
    }
    expected = json_numbers(document)
    assert len(numbers) == len(expected) == len(rows) - 6  # no row twice, none missing
    assert {k: (type(v), v) for k, v in numbers.items()} == {
        k: (type(v), v) for k, v in expected.items()
    }
    meta = {r["item"]: r["value"] for r in rows if r["section"] == "meta"}
    keys = ("title", "period_from", "period_to", "timezone", "variant", "generated_at")
    assert meta == {key: document[key] for key in keys}


def test_public_csv_keeps_suppressed_cells_as_written() -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(PUBLIC))))
    suppressed = {(r["item"], r["category"]) for r in rows if r["value"] == SUPPRESSED}
    assert ("nationality", "HT") in suppressed  # trafficking: 2 victims from HT
    assert ("health", "completed") in suppressed
    trafficking = [r for r in rows if r["crime_type"] == "trafficking"]
    durations = {(r["item"], r["category"]): r["value"] for r in trafficking}
    assert durations["health", "median_days"] == ""  # fewer than 5 steps: no figures


def test_render_gives_body_and_media_type() -> None:
    for fmt in ("json", "csv", "html"):
        body, media_type = render(FULL, fmt)
        assert media_type == MEDIA_TYPES[fmt]
        assert body
    assert render(FULL, "json")[0] == to_json(FULL)
    assert render(FULL, "csv")[1].startswith("text/csv")
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        render(FULL, "pdf")


# --- HTML ---------------------------------------------------------------------------------


@BOTH
def test_html_lays_out_the_seed_table(sample: StatisticsReport) -> None:
    html = to_html(sample)
    assert read_page(html).tables[0] == (
        "indicators",
        [
            ["Indicator", "Trafficking in persons", "Migrant smuggling"],
            ["Cases prosecuted", "12", "7"],
            ["Imputed persons", "14", "10"],
            ["Cases under investigation", "27", "20"],
            ["Identified victims / Smuggled persons", "25", "63"],
            ["Condemnatory sentences", "8", "5"],
            ["Convicted persons", "10", "6"],
        ],
    )


@BOTH
def test_html_is_one_standalone_page_for_a4(sample: StatisticsReport) -> None:
    html = to_html(sample)
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in html
    assert "@page { size: A4; margin: 15mm }" in html
    assert f"<title>{sample.title}</title>" in html
    assert "Period: 1 January 2017 to 30 June 2017 (days in America/Santo_Domingo)." in html
    assert html.count("<svg") == 8  # 6 breakdowns with someone in them, 2 step charts
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|@import|url\((?!#)", html)
    for definition in sample.definitions:
        assert definition.definition in html
    for note in sample.notes:
        assert note.replace("<", "&lt;") in html


def test_html_shows_every_breakdown_and_duration() -> None:
    html = to_html(FULL)
    assert table_after(html, "Identified victims by nationality") == [
        ["Category", "Persons"],
        ["DO", "15"],
        ["VE", "6"],
        ["CO", "2"],
        ["HT", "2"],
    ]
    assert 'Smuggled persons by age group</h4>\n<p class="empty">Nobody in the period.' in html
    steps = table_after(html, "Duration of protection steps")
    assert steps[0] == ["Step", "Completed", "Median days", "90th percentile days"]
    assert steps[1:] == [
        ["Identification", "25", "2.0", "6.5"],
        ["Shelter", "18", "4.5", "12.2"],
        ["Health", "3", "7.0", "9.0"],
        ["Legal assistance", "0", "\u2014", "\u2014"],
    ]
    assert "Not plotted, without figures: Legal assistance." in html


def test_public_tables_show_less_than_five_and_charts_leave_it_out() -> None:
    html = to_html(PUBLIC)
    page = read_page(html)
    assert table_after(html, "Identified victims by nationality")[1:] == [
        ["DO", "15"],
        ["VE", "6"],
        ["CO", SUPPRESSED],
        ["HT", SUPPRESSED],
    ]
    chart = page.charts["Identified victims by nationality"]
    assert set(chart) == {"DO", "VE", "15", "6"}
    assert "2 categories &lt;5 not plotted." in html
    assert set(page.charts["Identified victims by sex"]) == {"female", "21"}
    for texts in page.charts.values():
        assert SUPPRESSED not in texts
    steps = set(page.charts["Duration of protection steps, trafficking in persons"])
    assert "Health" not in steps  # 3 completed: no figures, not plotted
    assert table_after(html, "Duration of protection steps")[3] == [
        "Health",
        SUPPRESSED,
        "\u2014",
        "\u2014",
    ]


def test_suppressed_indicators_show_as_less_than_five() -> None:
    figures = [
        CrimeFigures(crime_type=f.crime_type, values={**f.values, Indicator.SENTENCES: SUPPRESSED})
        for f in PUBLIC.figures
    ]
    html = to_html(PUBLIC.model_copy(update={"figures": figures}))
    assert read_page(html).tables[0][1][5] == ["Condemnatory sentences", SUPPRESSED, SUPPRESSED]


def test_everything_is_escaped() -> None:
    hostile = '<img src=x>&"'
    breakdown = Breakdown(
        crime_type=CrimeType.TRAFFICKING,
        dimension=Dimension.SEX,
        counts={hostile: 7, "$x^2$": 6},  # and no mathtext in charts
    )
    sample = FULL.model_copy(
        update={"title": f"Report {hostile}", "notes": [hostile], "breakdowns": [breakdown]}
    )
    html = to_html(sample)
    assert "<img" not in html
    assert "&lt;img src=x&gt;&amp;&quot;" in html
    page = read_page(html)
    assert table_after(html, "Identified victims by sex")[1] == [hostile, "7"]
    assert set(page.charts["Identified victims by sex"]) == {hostile, "$x^2$", "7", "6"}


def test_an_empty_report_renders() -> None:
    empty = FULL.model_copy(
        update={
            "definitions": [],
            "figures": [],
            "breakdowns": [],
            "step_durations": [],
            "notes": [],
        }
    )
    assert StatisticsReport.model_validate_json(to_json(empty)) == empty
    assert len(list(csv.DictReader(io.StringIO(to_csv(empty))))) == 6
    html = to_html(empty)
    assert "No definitions given." in html
    assert "No notes." in html
    assert "<svg" not in html


def test_two_hundred_nationalities_render_fast_with_top_ten_charted() -> None:
    large = many_nationalities(200)
    to_html(FULL)  # fonts and caches loaded once, as in a running server
    started = time.perf_counter()
    html = to_html(large)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{elapsed:.2f}s"
    codes = nationality_codes(200)
    table = table_after(html, "Identified victims by nationality")
    assert [row[0] for row in table[1:]] == codes  # the table shows all
    chart = read_page(html).charts["Identified victims by nationality"]
    labels = [text for text in chart if not re.fullmatch(r"[\d,]+", text)]
    assert labels == [*codes[:10], "190 more"]
    assert f"{sum(range(1, 191)):,}" in chart  # the rest, summed
    assert "Top 10 of 200 categories; the rest in one grey bar." in html
    for fmt in ("json", "csv"):
        started = time.perf_counter()
        render(large, fmt)
        assert time.perf_counter() - started < 0.2


def test_durations_without_figures_are_not_charted() -> None:
    none = [
        StepDuration(
            crime_type=CrimeType.SMUGGLING,
            step=Step.SHELTER,
            completed=0,
            median_days=None,
            p90_days=None,
        )
    ]
    html = to_html(FULL.model_copy(update={"step_durations": none}))
    assert "No chart: no step has figures." in html
    assert "Duration of protection steps, migrant smuggling" not in read_page(html).charts


# --- a real browser prints the page -------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


def chromium() -> Path:
    """Debian's Chromium (`make browser`); missing it fails in CI and skips elsewhere."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def print_to_pdf(html: str, folder: Path) -> tuple[bytes, list[str]]:
    """The PDF Chromium prints of `html`, and the console lines the page logged."""
    page, pdf = folder / "r.html", folder / "r.pdf"
    page.write_text(html, encoding="utf-8")
    command = [
        str(chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={folder / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        page.as_uri(),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert pdf.exists(), done.stderr[-3000:]
    # Chromium logs every console message (console.error too) as INFO:CONSOLE; our page has
    # no script, so any such line is an error. D-Bus and GPU noise is not the page's.
    console = [
        line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line
    ]
    return pdf.read_bytes(), console


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


@pytest.mark.parametrize(
    "sample", [FULL, PUBLIC, many_nationalities(200)], ids=["full", "public", "large"]
)
def test_chromium_prints_the_page_on_a4(sample: StatisticsReport, tmp_path: Path) -> None:
    pdf, console = print_to_pdf(to_html(sample), tmp_path)
    assert pdf.startswith(b"%PDF-")
    assert pages(pdf) >= 1
    assert console == []
    for box in re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf):
        assert (round(float(box[0])), round(float(box[1]))) == (595, 842)  # A4 in points


def test_the_console_check_sees_page_errors(tmp_path: Path) -> None:
    """The check above would pass on a browser that logs nothing: show it catches errors."""
    html = '<!DOCTYPE html><html lang="en"><title>t</title><script>console.error("canary");'
    html += "missing();</script></html>"
    pdf, console = print_to_pdf(html, tmp_path)
    assert pages(pdf) == 1
    assert any('"canary"' in line for line in console)
    assert any("Uncaught ReferenceError" in line for line in console)
