"""Arrays an analysis keeps for the index, moved to files until the index reads them.

With `keep_document_sets`, an analysis keeps the document sets of its
near-duplicate step and each content's first block's shingle hashes, for
the index built after it; the labelling in between never reads them. On
the 406 MB benchmark corpus they are 0.38 GB, held through the labelling's
peak. `SpilledArrays` is the `core.pipeline.Stash` the embedded runner
passes: it writes each array of such a value to a file of its folder and
hands back the value with the arrays mapped from those files, so their
pages are on disk, or in the page cache the system may reclaim, until the
index reads them.
"""

from __future__ import annotations

import dataclasses
import itertools
import mmap
from pathlib import Path
from typing import cast

import numpy as np

from dedup.core.pipeline import Kept

# Smaller arrays stay in memory: a file and a mapping each cost more than they hold.
MIN_BYTES = 1 << 20


class SpilledArrays:
    """A `Stash` that maps the arrays of each value it is given from files of `folder`.

    The arrays come back copy-on-write: they read as the originals and
    could be written without changing the files. The files are removed by
    `close()` (or at the end of a `with` block); mappings still held stay
    valid, as a removed file lives on while mapped.
    """

    def __init__(self, folder: Path, min_bytes: int = MIN_BYTES) -> None:
        self.folder = folder
        self.min_bytes = min_bytes
        self.paths: list[Path] = []
        self._names = itertools.count()
        self._mappings: list[mmap.mmap] = []

    def __call__(self, value: Kept, /) -> Kept:
        """`value` with every array of `min_bytes` or more mapped from a file.

        A dataclass's fields and a tuple's items are looked into; anything
        else is kept as it is.

        Raises:
            OSError: a file cannot be written (a full disk); the files
                written so far are removed by `close()`.
        """
        return cast(Kept, self._spill(value))

    def _spill(self, value: object) -> object:
        if isinstance(value, np.ndarray):
            return self._mapped(value) if value.nbytes >= self.min_bytes else value
        if isinstance(value, tuple):
            return tuple(self._spill(item) for item in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            names = [f.name for f in dataclasses.fields(value)]
            return dataclasses.replace(value, **{n: self._spill(getattr(value, n)) for n in names})
        return value

    def _mapped(self, array: np.ndarray) -> np.ndarray:
        path = self.folder / f"stash-{next(self._names):04d}.npy"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.paths.append(path)
        # No fsync: the file lives for one scan, and is never read by another.
        with open(path, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
        # A plain ndarray view of the mapping (the mapping lives on as its base):
        # the compiled kernels take it as they take any array.
        mapped: np.ndarray = np.asarray(np.load(path, mmap_mode="c", allow_pickle=False))
        base: object = mapped
        while isinstance(base, np.ndarray):
            base = base.base
        if isinstance(base, mmap.mmap):
            self._mappings.append(base)
        return mapped

    def drop_pages(self) -> int:
        """Let the system take back the pages of every mapped array; how many mappings.

        The pages read through a mapping count in the process's memory
        until it is closed, though the system could reclaim them: after the
        index's steps read the kept arrays (0.2 GB of the 406 MB benchmark
        corpus), while its tables are written. The arrays stay readable (a
        later read takes the pages from the file again): they were never
        written, so nothing of theirs is lost.
        """
        dropped = 0
        for mapping in self._mappings:
            if not mapping.closed and hasattr(mapping, "madvise"):
                mapping.madvise(mmap.MADV_DONTNEED)
                dropped += 1
        return dropped

    def close(self) -> None:
        """Remove the files (arrays still mapped from them stay readable)."""
        for path in self.paths:
            path.unlink(missing_ok=True)
        self.paths.clear()
        self._mappings.clear()

    def __enter__(self) -> SpilledArrays:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
