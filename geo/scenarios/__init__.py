"""Scenarios (方案) that persist: facilities added, moved and closed, saved in a GeoPackage, compared.

::

    from lifecircle.geo import scenarios
    store = scenarios.ScenarioStore(scenarios.project_store_path("PROJECT.toml"))
    s = scenarios.Scenario("两个新站", added=[scenarios.Change("N1", "micro_station", "新站1", 114.05, 22.55)])
    s = store.save(s, saved_by="王工")          # version 1; a stale save raises ScenarioConflict
    store.list()                                  # name, version, saved_by, saved_at, counts
    changed = store.load("两个新站").apply(facilities)
    cmp = scenarios.compare(net, facilities, demand, None, s, tiers=(300, 1000), units=communities)

Modules: :mod:`.model` (Scenario, Change, apply), :mod:`.store` (the GeoPackage store and where it
lives), :mod:`.compare` (two sides on the same demand).
"""

from ..errors import ScenarioConflict, ScenarioError
from .compare import TODAY, Comparison, compare
from .model import ELEMENTS, Change, Scenario, check_name
from .store import (
    DATA_ENV,
    LAYERS,
    META_TABLE,
    USER_ENV,
    ScenarioStore,
    data_dir,
    default_user,
    demo_store_path,
    project_store_path,
    split_ref,
    store_for,
)

__all__ = [
    "Scenario",
    "Change",
    "ELEMENTS",
    "check_name",
    "ScenarioStore",
    "ScenarioError",
    "ScenarioConflict",
    "LAYERS",
    "META_TABLE",
    "DATA_ENV",
    "USER_ENV",
    "data_dir",
    "default_user",
    "demo_store_path",
    "project_store_path",
    "split_ref",
    "store_for",
    "compare",
    "Comparison",
    "TODAY",
]
