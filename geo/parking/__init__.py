"""Shared night parking (错时共享停车): spare spaces in commercial lots for short compounds.

A street office pools the night-time spaces of office buildings, malls,
hotels, industrial parks and hospitals and gives them to residential
compounds (小区) short of spaces at night.  This module holds the whole
computation, on the walking network:

Modules: :mod:`~geo.parking.windows`, :mod:`~geo.parking.tables` (supply and
demand from the tables), :mod:`~geo.parking.pairs`, :mod:`~geo.parking.model`
(the optimisation) and :mod:`~geo.parking.result` (:func:`match_parking`).

* **Time windows** (:func:`parse_window`): ``"19:00-08:00"`` crosses midnight,
  ``"19:00-07:30"`` has half hours; several pieces may be joined with commas.
  Windows are daily and recurring, so they live on a 24-hour circular grid of
  30-minute slots, or 15-minute slots when a time needs them
  (:func:`choose_slot_minutes`).  A car occupies every slot its window
  overlaps; a lot is open in a slot only when the slot lies wholly inside its
  open hours.
* **Supply** per lot (:func:`lot_supply`): usable spaces in slot ``s`` are
  ``floor(capacity x (1 - occupancy(s))) - reserved``, and 0 outside the open
  hours.  Occupancy comes from ``occ_00``..``occ_23`` (shares occupied by the
  lot's own users each hour) or from a typical weekday profile of its
  ``land_use`` (:data:`LAND_USE_PROFILES`); a lot with neither offers its
  whole capacity (less ``reserved``) in every open hour.  A blank ``open``
  means open all day; ``open = "closed"`` (or 不开放) means no open hours: such
  a lot simply offers nothing, and the result notes it.
* **Demand** per compound (:func:`residence_demand`): the night shortfall in
  cars and the window they need (``window``; default :data:`DEFAULT_WINDOW`).
* **Walking distances** (:func:`walk_pairs`): one bounded search per point of
  the smaller side, exact point-to-point network distances (same-edge case
  included) with :func:`geo.pairs.pairs_within`; only pairs within the
  walking limit are kept (sparse).
* **Matching** (:class:`ParkingProblem`): optimal and lexicographic - first the
  most cars placed, then the least total walking.  Every slot's capacity is
  checked lot by lot.  When the slot rows of every lot reduce to one (all
  windows alike, or a lot's usable spaces constant over them) the problem is a
  transportation problem, a min-cost flow solved as an LP by HiGHS' simplex
  (its vertices are integral); otherwise a MIP with HiGHS, integer cars per
  pair.  No metaheuristics.
* **Options**: a fairness floor, per-lot caps and a price limit.

The output (:class:`ParkingResult`) gives the pairs (compound, lot, cars,
walking metres, window and hours), how much of each compound's gap is closed,
the spaces each lot uses slot by slot, and the share of the total night gap
that is closed (:meth:`ParkingResult.summary`).

Everything here is computation: no Panel or folium imports.
"""

from __future__ import annotations

from ..errors import WindowError
from ..settings import DEFAULT_MAX_WALK_M, DEFAULT_WINDOW
from .model import LP_METHOD, Assignment, ParkingProblem
from .pairs import WalkPairs, walk_pairs
from .result import ParkingResult, match_parking
from .tables import (
    LAND_USE_ALIASES,
    LAND_USE_PROFILES,
    PROFILE_SOURCE,
    LotSupply,
    ResidenceDemand,
    demand_windows,
    lot_supply,
    occupancy_profiles,
    residence_demand,
)
from .windows import (
    DAY_MINUTES,
    SLOT_CHOICES,
    TimeWindow,
    choose_slot_minutes,
    format_window,
    parse_window,
    slot_labels,
)

__all__ = [
    "DAY_MINUTES",
    "DEFAULT_MAX_WALK_M",
    "DEFAULT_WINDOW",
    "LAND_USE_ALIASES",
    "LAND_USE_PROFILES",
    "LP_METHOD",
    "PROFILE_SOURCE",
    "SLOT_CHOICES",
    "Assignment",
    "LotSupply",
    "ParkingProblem",
    "ParkingResult",
    "ResidenceDemand",
    "TimeWindow",
    "WalkPairs",
    "WindowError",
    "choose_slot_minutes",
    "demand_windows",
    "format_window",
    "lot_supply",
    "match_parking",
    "occupancy_profiles",
    "parse_window",
    "residence_demand",
    "slot_labels",
    "walk_pairs",
]
