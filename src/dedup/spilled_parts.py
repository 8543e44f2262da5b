"""The ranges of a labelling in parts (`core.label_parts`), kept in files between passes.

`core.label_parts.label_parts` loads one range of documents' block columns
at a time, rewrites some of them, and saves the range before it loads the
next. `SpilledParts` is the `Parts` store the embedded runner gives it: each
column is a file of the work folder, mapped back copy-on-write when the
range is loaded, so that only the range being labelled is in memory (its
pages, and the page cache the system may reclaim, hold the rest). A column
that a pass hands back unchanged (the same array it was given) is not
written again.
"""

from __future__ import annotations

import itertools
import weakref
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dedup.core.label_parts import Part

# Smaller columns stay in memory: a file and a mapping each cost more than they hold.
MIN_BYTES = 1 << 16


class SpilledParts:
    """A `core.label_parts.Parts` store, the ranges' columns in files of `folder`.

    Ranges are added by saving range `len(store)`. The files are removed by
    `close()` (or at the end of a `with` block); mappings still held stay
    valid, as a removed file lives on while mapped.
    """

    def __init__(self, folder: Path, min_bytes: int = MIN_BYTES) -> None:
        self.folder = folder
        self.min_bytes = min_bytes
        self._bounds: list[tuple[int, int]] = []
        # Per range and column: its file (None: kept in memory, in `_held`),
        # and a weak reference to the array last handed out or saved.
        self._files: list[dict[str, Path | None]] = []
        self._held: list[dict[str, NDArray[Any]]] = []
        self._seen: list[dict[str, weakref.ref[NDArray[Any]]]] = []
        self._names = itertools.count()

    def __len__(self) -> int:
        return len(self._bounds)

    def save(self, index: int, part: Part) -> None:
        """Keep `part` as range `index`, writing the columns that changed since its load.

        Raises:
            OSError: a file cannot be written (a full disk); `close()`
                removes what was written.
        """
        if index == len(self._bounds):
            self._bounds.append((part.lo, part.hi))
            self._files.append({})
            self._held.append({})
            self._seen.append({})
        files, held, seen = self._files[index], self._held[index], self._seen[index]
        for name in [n for n in files if n not in part.columns]:
            self._forget(index, name)
        for name, column in part.columns.items():
            known = seen.get(name)
            if known is not None and known() is column:
                continue  # handed out by `load` and given back as it was
            self._forget(index, name)
            if column.nbytes < self.min_bytes:
                # A copy of a view: its base may be a whole corpus's column.
                held[name] = column.copy() if column.base is not None else column
                files[name] = None
            else:
                files[name] = self._write(column)
            seen[name] = weakref.ref(column)
        self._bounds[index] = (part.lo, part.hi)

    def load(self, index: int) -> Part:
        """Range `index` as last saved, its large columns mapped from their files."""
        bounds = self._bounds[index]
        columns: dict[str, NDArray[Any]] = {}
        for name, path in self._files[index].items():
            if path is None:
                column = self._held[index][name]
            else:
                # A plain ndarray view of the mapping (the mapping lives on as
                # its base): the compiled kernels take it as any array.
                column = np.asarray(np.load(path, mmap_mode="c", allow_pickle=False))
            columns[name] = column
            self._seen[index][name] = weakref.ref(column)
        return Part(bounds[0], bounds[1], columns)

    def _write(self, column: NDArray[Any]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"range-{next(self._names):06d}.npy"
        # No fsync: the file lives for one scan, and is never read by another.
        try:
            with open(path, "wb") as handle:
                np.save(handle, np.ascontiguousarray(column), allow_pickle=False)
        except BaseException:
            path.unlink(missing_ok=True)  # a part written before a full disk
            raise
        return path

    def _forget(self, index: int, name: str) -> None:
        path = self._files[index].pop(name, None)
        self._held[index].pop(name, None)
        self._seen[index].pop(name, None)
        if path is not None:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Remove every file (arrays still mapped from them stay readable).

        Raises:
            OSError: a file could not be removed (the others are, first).
        """
        failed: OSError | None = None
        for index in range(len(self._files)):
            for name in list(self._files[index]):
                try:
                    self._forget(index, name)
                except OSError as exc:
                    failed = failed or exc
        if failed is not None:
            raise failed

    def __enter__(self) -> SpilledParts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
