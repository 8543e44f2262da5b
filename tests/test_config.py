"""ScanConfig: validated when built, round-trips through JSON, wrong types named."""

from __future__ import annotations

import pytest

from dedup import ConfigError, NormalizeConfig, ScanConfig
from dedup.synth import SynthConfig


def test_config_round_trips_through_json() -> None:
    cfg = ScanConfig(min_docs=3, group_by="prefix", normalize=NormalizeConfig(casefold=False))
    assert ScanConfig.from_json(cfg.to_json()) == cfg
    assert cfg.to_json() == ScanConfig.from_json(cfg.to_json()).to_json()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"ngram": "5"}', "ngram"),
        ('{"min_docs": true}', "min_docs"),
        ('{"doc_threshold": "high"}', "doc_threshold"),
        ('{"normalize": [1]}', "normalize"),
        ('{"normalize": {"casefold": "no"}}', "casefold"),
        ('{"group_by": 3}', "group_by"),
    ],
)
def test_a_wrong_type_is_a_config_error_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        ScanConfig.from_json(text)


def test_unknown_keys_and_bad_json_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown config keys: colour"):
        ScanConfig.from_json('{"colour": 1}')
    with pytest.raises(ConfigError, match="not valid JSON"):
        ScanConfig.from_json("{")
    with pytest.raises(ConfigError, match="object"):
        ScanConfig.from_json("[1]")


def test_an_int_is_a_valid_float_threshold() -> None:
    assert ScanConfig.from_json('{"common_fraction": 1}').common_fraction == 1


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"sites": 1}, "--sites"),
        ({"pages_per_site": 0}, "--pages"),
        ({"near_duplicates": -1}, "--near"),
    ],
)
def test_generator_sizes_are_validated(kwargs: dict[str, int], option: str) -> None:
    with pytest.raises(ConfigError, match=option):
        SynthConfig(**kwargs)  # type: ignore[arg-type]
