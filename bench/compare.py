"""Every benchmark suite side by side: ``python -m bench.compare [--quick] [--out DIR] [SUITE]``.

Each suite module in bench/ exposes ``collect(quick: bool) -> list[Series]``, measuring trtpipe and
its peers in this one process; this runner calls the suites asked for (all by default), writes
one markdown table, JSON summary and PNG plot per suite plus ``summary.md`` with every table, and
prints the summary. A suite whose requirements are missing here (no GPU, no ROS) is listed with
the reason instead of failing the run.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import platform
import sys
import time
from pathlib import Path

from bench import report

SUITES = ("pool", "preprocess", "engine_loop", "decode", "detector", "monitor", "ros", "ros_wire")
log = logging.getLogger("bench.compare")


class SuiteUnavailable(Exception):
    """Raised by a suite's ``collect`` when this machine lacks what it measures."""


def machine_description() -> str:
    gpu = "no GPU"
    try:
        from trtpipe import _core

        gpus = _core.query_devices()["gpus"]
        if gpus:
            gpu = ", ".join(g["name"] for g in gpus)
    except Exception as exc:  # the report still names the machine
        gpu = f"GPU unknown ({exc})"
    cpu = platform.processor() or platform.machine()
    return f"{platform.node()} · {cpu} · {os.cpu_count()} CPUs · {gpu}"


def run(suites: list[str], out_dir: Path, quick: bool) -> tuple[str, list[str]]:
    """Runs the suites; returns the summary and the names of the suites that failed."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    header = f"Machine: {machine_description()} · {stamp}"
    sections = [f"# trtpipe benchmarks\n\n{header}\n"]
    failed: list[str] = []
    for name in suites:
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            series = module.collect(quick=quick)
        except SuiteUnavailable as exc:
            sections.append(f"## {name}\n\nskipped: {exc}\n")
            log.warning("%s: skipped: %s", name, exc)
            continue
        except Exception as exc:  # one broken suite must not hide the others' results
            sections.append(f"## {name}\n\nFAILED: {type(exc).__name__}: {exc}\n")
            log.exception("%s: failed", name)
            failed.append(name)
            continue
        if not series:
            sections.append(f"## {name}\n\nskipped: nothing measured\n")
            continue
        report.write(series, out_dir, name, header=f"## {name}\n\n{header}")
        elapsed = time.perf_counter() - started
        sections.append(f"## {name}\n\n{report.markdown_table(series)}\n\n({elapsed:.0f} s)\n")
        log.info("%s: %d series in %.0f s", name, len(series), elapsed)
    summary = "\n".join(sections)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.md").write_text(summary)
    return summary, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("suites", nargs="*", help=f"any of {', '.join(SUITES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument(
        "--out", type=Path, default=Path(os.environ.get("TRTPIPE_BENCH_OUT", "bench/results"))
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    unknown = sorted(set(args.suites) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; expected any of {', '.join(SUITES)}")
    summary, failed = run(list(args.suites) or list(SUITES), args.out, args.quick)
    print(summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
