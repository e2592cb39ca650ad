"""Every benchmark still starts: its imports resolve against the current package (a refactor of a private
module must not break them silently) and it answers --help without running (or writing its results)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[2] / "benchmarks").glob("bench_*.py"))


def test_the_benchmarks_are_found():
    assert {b.stem for b in BENCHMARKS} >= {"bench_cost", "bench_decorators", "bench_langchain", "bench_openai",
                                            "bench_store", "bench_dashboard"}


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_a_benchmark_imports_and_answers_help(script):
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:"), done.stdout[:200]
