"""Progress of long steps (files read, MB/s, time left), drawn on a terminal.

A runner reports progress through one callback, `ProgressFn`, that it calls
with a `Tick`: the step's name, files and bytes done, and their totals when
known (0 when not). The default everywhere is `no_progress`, which does
nothing, so library callers and distributed engines pay nothing and see
nothing. Progress never changes what a runner computes or writes.

`terminal_progress(quiet)` gives the CLI a callback that draws one line per
step on stderr, redrawn in place, only when stderr is a terminal and `quiet`
is off; otherwise it gives `no_progress`, so a piped or redirected run
prints nothing extra.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from dedup.decoding import Document
    from dedup.sources import Source

_MB = 1_000_000
# Erase from the cursor to the end of the line: a shorter line leaves no tail.
_CLEAR = "\r\x1b[K"


@dataclass(frozen=True)
class Tick:
    """Where a step is: done so far and totals (0 when unknown).

    A step's last tick has `finished` set; a step without ticks in between
    (one long call) sends only its first and last.
    """

    step: str
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    finished: bool = False


ProgressFn = Callable[[Tick], None]


def no_progress(tick: Tick) -> None:
    """Ignore every tick: the default of every runner."""


def _duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def _unit(nbytes: int) -> tuple[float, str]:
    # kB below a megabyte: a small run would otherwise read "0.0 MB".
    return (_MB, "MB") if nbytes >= _MB else (1_000, "kB")


def _size(nbytes: int, total: int = 0) -> str:
    scale, unit = _unit(max(nbytes, total))
    shown = f"{nbytes / scale:,.1f}"
    return f"{shown}/{total / scale:,.1f} {unit}" if total else f"{shown} {unit}"


def _rate(nbytes: int, elapsed: float) -> str:
    rate = nbytes / _MB / elapsed if elapsed > 0 else 0.0
    return f"{rate:,.1f} MB/s" if rate >= 1 else f"{rate:.2f} MB/s"


def _time_left(tick: Tick, elapsed: float) -> str:
    """Time left at the rate so far: by bytes when their total is known, else by files."""
    if tick.bytes_total and tick.bytes_done:
        share = tick.bytes_done / tick.bytes_total
    elif tick.files_total and tick.files_done:
        share = tick.files_done / tick.files_total
    else:
        return "--:--"
    return _duration(elapsed * (1 - share) / share) if share < 1 else "0:00"


def format_tick(tick: Tick, elapsed: float) -> str:
    """One line of text for `tick`, `elapsed` seconds after its step began.

    A running step with totals shows counts, MB/s and time left; one without
    (a single long call) shows its size and the time it has run; a finished
    step shows what it did, how long it took and its rate.
    """
    name = f"{tick.step:<9}"
    if tick.finished:
        parts = [f"{max(tick.files_done, tick.files_total):,} files"] if tick.files_total else []
        size = max(tick.bytes_done, tick.bytes_total)
        if size:
            parts.append(_size(size))
        what = ", ".join(parts) or "done"
        speed = f" ({_rate(size, elapsed)})" if size and elapsed > 0 else ""
        return f"{name}{what} in {_duration(elapsed)}{speed}"
    if not tick.files_done and not tick.bytes_done:
        parts = [f"{tick.files_total:,} files"] if tick.files_total else []
        if tick.bytes_total:
            parts.append(_size(tick.bytes_total))
        parts.append(f"{_duration(elapsed)} elapsed")
        return name + ", ".join(parts)
    files = f"{tick.files_done:,}"
    files += f"/{tick.files_total:,} files" if tick.files_total else " files"
    read = _size(tick.bytes_done, tick.bytes_total)
    rate = _rate(tick.bytes_done, elapsed)
    return f"{name}{files}  {read}  {rate}  {_time_left(tick, elapsed)} left"


class TerminalProgress:
    """A `ProgressFn` that draws ticks on one terminal line per step.

    Lines are redrawn at most every `interval` seconds (a step's first and
    last tick always), and a background thread redraws every `heartbeat`
    seconds so that a step running one long call still shows time passing.
    Call `close()` when done (or use `terminal_progress`).
    """

    def __init__(
        self,
        stream: TextIO,
        interval: float = 0.1,
        heartbeat: float | None = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._tick: Tick | None = None
        self._began = 0.0
        self._drawn = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if heartbeat is not None:
            self._thread = threading.Thread(
                target=self._beat, args=(heartbeat,), name="dedup-progress", daemon=True
            )
            self._thread.start()

    def __call__(self, tick: Tick) -> None:
        with self._lock:
            now = self._clock()
            current = self._tick
            starting = current is None or current.step != tick.step or current.finished
            if starting:
                if current is not None and not current.finished:
                    self._stream.write("\n")  # the previous step never said it finished
                self._began = now
            self._tick = tick
            if starting or tick.finished or now - self._drawn >= self._interval:
                self._draw(now)

    def _draw(self, now: float) -> None:
        if self._tick is None:
            return
        line = format_tick(self._tick, now - self._began)
        end = "\n" if self._tick.finished else ""
        self._stream.write(f"{_CLEAR}{line}{end}")
        self._stream.flush()
        self._drawn = now

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            with self._lock:
                if self._tick is not None and not self._tick.finished:
                    self._draw(self._clock())

    def close(self) -> None:
        """Stop redrawing and end an unfinished line, so later output starts on its own."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self._tick is not None and not self._tick.finished:
                self._stream.write("\n")
                self._stream.flush()
            self._tick = None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False


@contextmanager
def terminal_progress(quiet: bool = False, stream: TextIO | None = None) -> Iterator[ProgressFn]:
    """A progress callback drawing on `stream` (stderr), or `no_progress`.

    Draws only when the stream is a terminal and `quiet` is off: piped and
    redirected runs, and CI logs, stay free of redrawn lines.
    """
    target = stream if stream is not None else sys.stderr
    if quiet or not _is_terminal(target):
        yield no_progress
        return
    reporter = TerminalProgress(target)
    try:
        yield reporter
    finally:
        reporter.close()


def tracked(
    docs: Iterable[Document], sources: Sequence[Source], progress: ProgressFn, step: str = "read"
) -> Iterator[Document]:
    """`docs` passed through, telling `progress` of the files and bytes read so far.

    `sources` are the files `docs` come from, in reading order (for the totals).
    """
    done: dict[str, tuple[int, int]] = {}  # source -> (files, bytes) read up to it
    nbytes = 0
    for count, source in enumerate(sources, 1):
        with contextlib.suppress(OSError):
            nbytes += source.path.stat().st_size
        done[str(source.path)] = (count, nbytes)
    tick = Tick(step, files_total=len(sources), bytes_total=nbytes)
    progress(tick)
    for doc in docs:
        files, read = done.get(doc.source, (tick.files_done, tick.bytes_done))
        tick = replace(tick, files_done=files, bytes_done=read)
        progress(tick)
        yield doc
    progress(replace(tick, files_done=len(sources), bytes_done=nbytes, finished=True))
