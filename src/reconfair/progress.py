"""Progress display for long steps: rich bars on a terminal, plain log lines elsewhere, silent when disabled.

On a terminal, bars opened while another is showing join the same display
(rich allows one live display at a time), so a study's condition bar and the
training bars of the models it needs appear together.

When stderr is not a terminal (a batch job, Slurm, CI, output piped to a
file) there is no live display: each bar writes plain timestamped lines to
stderr as it goes, e.g. ``2026-12-01T22:14:06 train unet on synthetic-chest
...: 3/10 (30%), 12 s elapsed, eta 28 s``: its first update, its last
(complete) one, and in between at most one line per :data:`LOG_INTERVAL_S`
seconds per bar (``$RECONFAIR_LOG_INTERVAL`` overrides it).  A bar that ends
early (e.g. early stopping) writes its final count when it closes.

>>> with progress_bar("demo", total=2, enabled=False) as advance:
...     advance(); advance()
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["LOG_INTERVAL_ENV", "LOG_INTERVAL_S", "PlainBar", "console", "progress_bar"]

console = Console(stderr=True)
_active: list[Progress] = []

#: Seconds between two plain progress lines of one bar when stderr is not a terminal.
LOG_INTERVAL_S = 10.0
LOG_INTERVAL_ENV = "RECONFAIR_LOG_INTERVAL"

_clock: Callable[[], float] = time.monotonic  # replaced by tests


def log_interval() -> float:
    """:data:`LOG_INTERVAL_S`, or ``$RECONFAIR_LOG_INTERVAL`` (seconds) when it is a number >= 0."""
    try:
        value = float(os.environ.get(LOG_INTERVAL_ENV, ""))
    except ValueError:
        return LOG_INTERVAL_S
    return value if value >= 0 else LOG_INTERVAL_S


class PlainBar:
    """A progress bar as plain lines, rate-limited to one line per ``interval`` seconds.

    >>> import io
    >>> ticks = iter([0.0, 1.0, 2.0, 3.0, 30.0])
    >>> out = io.StringIO()
    >>> bar = PlainBar("demo", total=4, interval=10.0, clock=lambda: next(ticks), stream=out,
    ...                stamp=lambda: "T")
    >>> for _ in range(4):
    ...     bar.advance()
    >>> print(out.getvalue(), end="")
    T demo: 1/4 (25%), 1 s elapsed, eta 3 s
    T demo: 4/4 (100%), 30 s elapsed
    """

    def __init__(
        self,
        description: str,
        *,
        total: int,
        interval: float,
        clock: Callable[[], float] | None = None,
        stream: TextIO | None = None,
        stamp: Callable[[], str] | None = None,
    ) -> None:
        self.description, self.total, self.interval = description, int(total), float(interval)
        self._clock = clock or _clock
        self._stream = stream
        self._stamp = stamp or (lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))
        self.started = self._clock()
        self.completed = 0
        self.info = ""
        self._last_line: float | None = None
        self._last_count: int | None = None

    def advance(self, n: int = 1, info: str = "") -> None:
        self.completed += n
        self.info = info
        now = self._clock()
        finished = self.total > 0 and self.completed >= self.total
        if self._last_line is None or finished or now - self._last_line >= self.interval:
            self._write(now)

    def close(self) -> None:
        """Write the final count when the last line did not show it (a bar that ended early)."""
        if self._last_count is not None and self._last_count != self.completed:
            self._write(self._clock())

    def _write(self, now: float) -> None:
        elapsed = now - self.started
        done, total = self.completed, self.total
        share = f" ({100 * done / total:.0f}%)" if total > 0 else ""
        line = f"{self._stamp()} {self.description}: {done}/{total}{share}, {_duration(elapsed)} elapsed"
        if 0 < done < total:
            line += f", eta {_duration(elapsed / done * (total - done))}"
        if self.info:
            line += f" - {self.info}"
        stream = self._stream if self._stream is not None else console.file
        stream.write(line + "\n")
        stream.flush()
        self._last_line, self._last_count = now, done


def _duration(seconds: float) -> str:
    """``12 s``, ``4 min 05 s``, ``2 h 03 min``.

    >>> _duration(12.4), _duration(245), _duration(7380)
    ('12 s', '4 min 05 s', '2 h 03 min')
    """
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _live() -> bool:
    """Whether rich can show a live display (a terminal or a notebook)."""
    return console.is_terminal or console.is_jupyter


@contextmanager
def progress_bar(description: str, *, total: int, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n=1, info="")``; shows a bar with ETA on stderr when enabled.

    Without a terminal the bar is a :class:`PlainBar` (timestamped lines, rate-limited).
    """
    if not enabled:
        yield lambda n=1, **_: None
        return
    if not _live():
        bar = PlainBar(description, total=total, interval=log_interval())
        yield bar.advance
        bar.close()
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
