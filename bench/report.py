"""Side-by-side latency results: a markdown table of medians, p99 and ratios, and a PNG plot.

Every suite turns its measurements into :class:`Series` (one implementation on one case, the
raw per-iteration samples in microseconds); this module does the rest, the same for all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BASELINE = "trtpipe"


@dataclass
class Series:
    case: str  # what was measured, e.g. "alloc+release 1 MiB"
    impl: str  # who did it: "trtpipe" or a peer
    samples_us: np.ndarray
    clock: str = "host"  # "host" (perf_counter) or "gpu" (CUDA events)
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)  # e.g. bytes moved, GB/s

    @property
    def median(self) -> float:
        return float(np.median(self.samples_us))

    @property
    def p99(self) -> float:
        return float(np.percentile(self.samples_us, 99))


def _fmt(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def markdown_table(series: Sequence[Series], baseline: str = BASELINE) -> str:
    """One row per case and implementation; ratio = implementation median / baseline median."""
    rows = [
        "| case | implementation | clock | median µs | p99 µs | ratio to trtpipe | note |",
        "| --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    by_case: dict[str, list[Series]] = {}
    for s in series:
        by_case.setdefault(s.case, []).append(s)
    for case, group in by_case.items():
        base = next((s for s in group if s.impl == baseline), None)
        for s in group:
            ratio = f"{s.median / base.median:.2f}×" if base and base.median > 0 else "–"
            rows.append(
                f"| {case} | {s.impl} | {s.clock} | {_fmt(s.median)} | {_fmt(s.p99)} | {ratio} "
                f"| {s.note} |"
            )
    return "\n".join(rows)


def plot(series: Sequence[Series], path: Path) -> None:
    """Box plots of the latency distributions, one panel per case, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(s.case for s in series))
    fig, axes = plt.subplots(
        len(cases),
        1,
        figsize=(8, 1.2 + 0.5 * max(len(series) / max(len(cases), 1), 2) * len(cases)),
    )
    axes = np.atleast_1d(axes)
    for ax, case in zip(axes, cases, strict=True):
        group = [s for s in series if s.case == case]
        data, labels = [s.samples_us for s in group], [s.impl for s in group]
        try:
            ax.boxplot(data, vert=False, whis=(1, 99), showfliers=False, tick_labels=labels)
        except TypeError:  # matplotlib < 3.9 calls it `labels`
            ax.boxplot(data, vert=False, whis=(1, 99), showfliers=False, labels=labels)
        ax.set_xscale("log")
        ax.set_title(case, fontsize=9)
        ax.set_xlabel("µs (whiskers: p1–p99)", fontsize=8)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(series: Sequence[Series], out_dir: Path, name: str, header: str = "") -> Path:
    """Write ``name.md`` (table), ``name.json`` (summary) and ``name.png`` (plot) to out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table = markdown_table(series)
    (out_dir / f"{name}.md").write_text((header + "\n\n" if header else "") + table + "\n")
    summary = [
        {
            "case": s.case,
            "impl": s.impl,
            "clock": s.clock,
            "median_us": s.median,
            "p99_us": s.p99,
            "n": len(s.samples_us),
            "note": s.note,
            **s.extra,
        }
        for s in series
    ]
    (out_dir / f"{name}.json").write_text(json.dumps(summary, indent=2))
    plot(series, out_dir / f"{name}.png")
    return out_dir / f"{name}.md"
