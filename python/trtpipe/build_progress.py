"""A progress display for engine builds: TensorRT's IProgressMonitor phases as rich progress bars.

TensorRT reports nested phases ("Building engine" > "Timing tactics" > ...), each with a step
count. Every phase gets a bar while it runs; the bar goes away when the phase finishes. The
display writes to stderr and only when it is a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def make_progress_monitor(trt: Any, enabled: bool | None = None) -> tuple[Any, Progress | None]:
    """(monitor, progress): an IProgressMonitor for ``trt`` and the rich Progress it drives.

    ``enabled=None`` shows the display only when stderr is a terminal. The caller starts and
    stops ``progress`` (a context manager) around the build; it is None when disabled.
    """
    show = sys.stderr.isatty() if enabled is None else enabled
    progress = (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        if show
        else None
    )

    class _Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._tasks: dict[str, Any] = {}
            self._depth: dict[str, int] = {}
            self.phases_seen: list[str] = []

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            self.phases_seen.append(phase_name)
            depth = self._depth.get(parent_phase, -1) + 1 if parent_phase else 0
            self._depth[phase_name] = depth
            if progress is not None:
                label = "  " * depth + phase_name
                self._tasks[phase_name] = progress.add_task(label, total=max(num_steps, 1))

        def step_complete(self, phase_name: str, step: int) -> bool:
            if progress is not None and phase_name in self._tasks:
                progress.update(self._tasks[phase_name], completed=step + 1)
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            task = self._tasks.pop(phase_name, None)
            if progress is not None and task is not None:
                progress.remove_task(task)

    return _Monitor(), progress
