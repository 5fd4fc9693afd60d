"""Small helpers shared by the benchmarks: percentiles and one JSON line per result."""

from __future__ import annotations

import json
import statistics
from typing import Any


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summary(name: str, samples_s: list[float], **extra: Any) -> dict[str, Any]:
    """p50/p95 in milliseconds, plus whatever else the benchmark measured."""
    return {
        "name": name,
        "n": len(samples_s),
        "p50_ms": round(percentile(samples_s, 0.5) * 1000, 2),
        "p95_ms": round(percentile(samples_s, 0.95) * 1000, 2),
        "mean_ms": round(statistics.fmean(samples_s) * 1000, 2),
        **extra,
    }


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)
