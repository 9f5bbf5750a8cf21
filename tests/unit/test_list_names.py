"""The naming rule both sides share: which lists reach marketing, under which group name."""

from __future__ import annotations

import pytest

from kith.list_names import judge_list_name


@pytest.mark.parametrize(
    ("list_name", "group_name"),
    [
        ("Informz Has Started Discussion Thread", "Has Started Discussion Thread"),
        ("  informz - Posted 3 Times", "Posted 3 Times"),
        ("INFORMZ:_New Members", "New Members"),
        ("Informz", None),
        ("Informz  -_: ", None),
        ("Chapter Leads", None),
    ],
)
def test_a_list_name_gives_its_group_name(list_name: str, group_name: str | None) -> None:
    assert judge_list_name(list_name).group_name == group_name


@pytest.mark.parametrize(
    "list_name", ["Infromz Donors", "Inform Donors", "Informs Donors", "Donors (Informz)"]
)
def test_near_misses_of_the_prefix_are_flagged(list_name: str) -> None:
    verdict = judge_list_name(list_name)
    assert verdict.group_name is None and verdict.near_miss
