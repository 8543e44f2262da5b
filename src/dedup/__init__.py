"""dedup: boilerplate and near-duplicate detection for text corpora.

from dedup import ScanConfig, scan
summary = scan(["seeds"], "out", ScanConfig())
"""

from dedup.arrow import to_tables
from dedup.config import NormalizeConfig, ScanConfig
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

__all__ = [
    "SCHEMA_VERSION",
    "Analysis",
    "ConfigError",
    "DecodeError",
    "DedupError",
    "DuplicateIdError",
    "InputError",
    "NormalizeConfig",
    "OutputError",
    "ScanConfig",
    "ScanSummary",
    "analyze",
    "scan",
    "to_tables",
]
__version__ = "0.1.0"
