"""The declared dealer org units carry the names of the seeded dealers that own them."""

from __future__ import annotations

from typing import Any, Iterator

import yaml

from guarantee_world import GUARANTEE


def dealer_units(units: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for unit in units:
        if unit.get("kind") == "dealer":
            yield unit
        yield from dealer_units(unit.get("children") or [])


def test_dealer_unit_labels_are_the_seeded_dealers_names() -> None:
    tree = yaml.safe_load((GUARANTEE / "permissions" / "org_units.yaml").read_text(encoding="utf-8"))
    seed = yaml.safe_load((GUARANTEE / "seed.yaml").read_text(encoding="utf-8"))
    dealers = seed["entities"]["dealer"]
    # The seeded dealers are matched with their owners in turn, so the nth owner gets the nth name.
    names = dict(zip(dealers["owners"], dealers["fields"]["name"]["choices"]))
    labels = {unit["name"]: unit["label"]["zh-CN"] for unit in dealer_units(tree["org_units"])}
    assert labels == {"dealer_bj_yizhuang": "北京亦庄博远大众汽车销售服务有限公司", "dealer_sh_pudong": "上海浦东聚鑫二手车经营有限公司"}
    assert labels == {unit: names[unit] for unit in labels}
