"""dedup: boilerplate and near-duplicate detection for text corpora.

    from dedup import ScanConfig, scan
    summary = scan(["seeds"], "out", ScanConfig())

Names are imported on first use, so that importing `dedup.core` (inside a
distributed engine's task, say) does not drag in pyarrow through this package.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from dedup.arrow import to_tables
    from dedup.cleaner import CleanSummary, clean
    from dedup.config import InputConfig, NormalizeConfig, ScanConfig
    from dedup.core.pipeline import Analysis, analyze
    from dedup.errors import (
        ConfigError,
        DecodeError,
        DedupError,
        DuplicateIdError,
        InputError,
        OutputError,
    )
    from dedup.runner import ScanSummary, scan
    from dedup.schemas import SCHEMA_VERSION

_HOMES = {
    "SCHEMA_VERSION": "dedup.schemas",
    "Analysis": "dedup.core.pipeline",
    "CleanSummary": "dedup.cleaner",
    "ConfigError": "dedup.errors",
    "DecodeError": "dedup.errors",
    "DedupError": "dedup.errors",
    "DuplicateIdError": "dedup.errors",
    "InputConfig": "dedup.config",
    "InputError": "dedup.errors",
    "NormalizeConfig": "dedup.config",
    "OutputError": "dedup.errors",
    "ScanConfig": "dedup.config",
    "ScanSummary": "dedup.runner",
    "analyze": "dedup.core.pipeline",
    "clean": "dedup.cleaner",
    "scan": "dedup.runner",
    "to_tables": "dedup.arrow",
}

__all__ = [
    "SCHEMA_VERSION",
    "Analysis",
    "CleanSummary",
    "ConfigError",
    "DecodeError",
    "DedupError",
    "DuplicateIdError",
    "InputConfig",
    "InputError",
    "NormalizeConfig",
    "OutputError",
    "ScanConfig",
    "ScanSummary",
    "analyze",
    "clean",
    "scan",
    "to_tables",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'dedup' has no attribute {name!r}")
    return getattr(_importlib.import_module(home), name)


def __dir__() -> list[str]:
    return sorted(__all__)
