"""Group specs: which documents count together when repetition is counted."""

from __future__ import annotations

import pytest

from dedup import ScanConfig
from dedup.core.groups import check_group_spec, group_names, group_of
from dedup.errors import ConfigError

IDS = ["site/a.txt", "a.txt", "site__page1.txt", "dir/site__p.txt", "dir/sub/b.txt"]


def test_none_means_not_grouped() -> None:
    assert group_names(IDS, "none") is None


def test_folder_is_the_first_folder() -> None:
    # A file at the top has no folder: it is a group of its own.
    assert group_names(IDS, "folder") == ["site", "a.txt", "site__page1.txt", "dir", "dir"]


def test_prefix_is_the_file_name_before_the_double_underscore() -> None:
    assert group_names(IDS, "prefix") == ["a.txt", "a.txt", "site", "site", "b.txt"]
    assert group_of("x/site__a__b.txt", "prefix") == "site"


def test_regex_takes_the_first_capture_group() -> None:
    assert group_of("site007__page3.txt", r"regex:^site(\d+)__") == "007"
    assert group_of("dir/site__p.txt", r"regex:(\w+)__") == "site"


def test_regex_without_a_group_takes_the_whole_match() -> None:
    assert group_of("site007__page3.txt", r"regex:site\d+") == "site007"
    assert group_of("a/b/c.txt", "regex:^[^/]+/[^/]+") == "a/b"


def test_regex_with_an_unmatched_optional_group_takes_the_whole_match() -> None:
    assert group_of("site__p.txt", "regex:(x)?site") == "site"


def test_regex_without_a_match_is_the_id_itself() -> None:
    ids = ["news__a.txt", "blog/post.txt"]
    assert group_names(ids, r"regex:^(\d+)-") == ids


def test_group_names_keeps_order_and_length() -> None:
    ids = ["b__1", "a__1", "b__2"]
    assert group_names(ids, "prefix") == ["b", "a", "b"]
    assert group_names([], "prefix") == []


@pytest.mark.parametrize(
    "spec", ["none", "folder", "prefix", "regex:x", r"regex:^(\w+)/", "regex:"]
)
def test_valid_specs_pass(spec: str) -> None:
    check_group_spec(spec)
    ScanConfig(group_by=spec)


@pytest.mark.parametrize("spec", ["bogus", "", "Folder", "prefix ", "regex", "re:x"])
def test_unknown_specs_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError, match="--group-by"):
        check_group_spec(spec)
    with pytest.raises(ConfigError):
        group_names(["a"], spec)


@pytest.mark.parametrize("pattern", ["(", "[a-", "*x", "(?P<1>x)"])
def test_invalid_regex_is_a_config_error(pattern: str) -> None:
    with pytest.raises(ConfigError, match="invalid pattern"):
        check_group_spec(f"regex:{pattern}")


def test_scan_config_checks_the_spec() -> None:
    with pytest.raises(ConfigError, match="bogus"):
        ScanConfig(group_by="bogus")
    with pytest.raises(ConfigError, match="invalid pattern"):
        ScanConfig(group_by="regex:(")


def test_a_field_groups_by_its_value_and_a_missing_value_by_the_id() -> None:
    values = ["news", None, "news", "blog", "blog"]
    assert group_names(IDS, "field:site", values) == ["news", IDS[1], "news", "blog", "blog"]


def test_a_field_spec_needs_values_and_a_name() -> None:
    with pytest.raises(ConfigError, match="JSONL or Parquet"):
        group_names(IDS, "field:site")
    with pytest.raises(ConfigError, match="field name"):
        check_group_spec("field:")


def test_analyze_takes_field_values_in_input_order() -> None:
    from dedup import analyze

    texts = [f"Read our weekly letter\n\nstory number {n} about things" for n in ("a", "b", "c")]
    cfg = ScanConfig(group_by="field:site")
    result = analyze(["z", "x", "y"], texts, cfg, group_values=["s2", "s1", None])
    assert result.ids == ["x", "y", "z"]
    assert result.groups == ["s1", "y", "s2"]
