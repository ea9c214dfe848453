"""Progress display for long steps (rich), silent when disabled.

Bars opened while another is showing join the same display (rich allows one
live display at a time), so a study's condition bar and the training bars
of the models it needs appear together.

>>> with progress_bar("demo", total=2, enabled=False) as advance:
...     advance(); advance()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)
_active: list[Progress] = []


@contextmanager
def progress_bar(description: str, *, total: int, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n=1, **fields)``; shows a bar with ETA on stderr when enabled."""
    if not enabled:
        yield lambda n=1, **_: None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    )
    if _active:
        progress = _active[-1]
        task = progress.add_task(description, total=total, info="")
        try:
            yield lambda n=1, info="": progress.update(task, advance=n, info=info)
        finally:
            progress.remove_task(task)
        return
    with Progress(*columns, console=console, transient=False) as progress:
        _active.append(progress)
        task = progress.add_task(description, total=total, info="")
        try:
            yield lambda n=1, info="": progress.update(task, advance=n, info=info)
        finally:
            _active.pop()
