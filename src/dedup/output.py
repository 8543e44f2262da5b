"""Writing an output folder so that it is complete or absent, never half written.

Tables are written into a hidden temporary folder next to the target, each
file flushed to disk, and the folder is renamed into place in one step. A
previous output replaced with `force` is moved aside first and removed only
after the new one is in place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dedup.errors import OutputError


def check_target(out: Path, force: bool) -> None:
    """Fail early when `out` cannot be replaced."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; choose another --out")
    if out.exists() and not force:
        raise OutputError(f"{out}: output folder exists; pass --force to replace it")


def _fsync_dir(path: Path) -> None:
    # Makes the rename durable; some file systems do not support it.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_table(table: pa.Table, path: Path) -> None:
    """Write one Parquet file atomically: a temporary name, fsync, then rename."""
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_output(out: Path, tables: Mapping[str, pa.Table], force: bool) -> None:
    """Write `tables` as `out/<name>.parquet`, replacing `out` as a whole.

    Raises:
        OutputError: `out` exists without `force`, or writing failed (the
            message carries the system's reason; the previous output, if any,
            is left untouched).
    """
    check_target(out, force)
    parent = out.parent
    token = uuid.uuid4().hex[:12]
    staging = parent / f".{out.name}.tmp-{token}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        for name, table in tables.items():
            write_table(table, staging / f"{name}.parquet")
        _fsync_dir(staging)
        if out.exists():
            old = parent / f".{out.name}.old-{token}"
            os.rename(out, old)
            os.rename(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, out)
        _fsync_dir(parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        target = exc.filename or out
        raise OutputError(
            f"{target}: cannot write output ({exc.strerror or exc}); "
            "free disk space or choose another --out"
        ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
