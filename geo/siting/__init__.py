"""Micro-station siting: where to put new stations, with the existing ones kept.

Planners site new micro-stations (党群服务站) so that more residents live within
the walking radius of one.  The package, by concern:

* :mod:`~geo.siting.cover` - :func:`cover_sets`, a sparse covering structure
  from the walking network: for each candidate site, the demand samples within
  the radius (one bounded search per candidate, samples joined at their edges
  exactly as in :mod:`geo.coverage`), as CSR pairs.  Samples already within
  the radius of an existing station are *covered before* and leave the
  objective.  No dense candidates x demand matrix is ever built.
* :mod:`~geo.siting.models` - :class:`MCLP` and :class:`LSCP`, location models
  in the style of PySAL spopt: built (from a :class:`CoverSets`, from sparse
  pairs or from a cost matrix), then ``.solve(method)``, with the results as
  attributes.  ``"greedy"`` (:mod:`~geo.siting.heuristics`: lazy greedy plus
  best-improvement 1-swaps, then more swap searches started from the
  solutions of a Lagrangian relaxation, whose bound also tells how far from
  the optimum the answer can be; capacity-aware greedy with a capacity) and
  ``"exact"`` (:mod:`~geo.siting.exact`: the greedy's Lagrangian bound
  tightened, candidates that cannot be in a better solution left out by
  reduced-cost fixing, then the MIP of :mod:`~geo.siting.mip` over the rest,
  built sparsely and solved by HiGHS through :mod:`geo.solver`, warm-started
  by the greedy, with a time limit; "optimal" means proven optimal within
  ``mip_gap``, by default 1e-9, i.e. exactly).
* :mod:`~geo.siting.candidates` - existing stations, the study area, grid candidates.
* :mod:`~geo.siting.plan` - :func:`plan_sites`, the whole computation from
  GeoDataFrames, as the ``lifecircle site`` command runs it.
* :mod:`~geo.siting.whatif` - :class:`WhatIf`, the one what-if engine (the
  app's map clicks, the CLI, the notebooks): add / remove / move / undo of one
  station on the nearest-station distances.

Typical use::

    from lifecircle.geo import siting
    plan = siting.plan_sites(net, facilities, demand, candidates=cands, radius=1000, k=5)
    plan.sites()            # GeoDataFrame: id, name, rank, gain, lon, lat
    plan.summary()          # the summary JSON of the CLI

    model = siting.MCLP.from_pairs(cand_idx, demand_idx, weights, k=3).solve("exact")
    model.chosen, model.gains, model.optimal, model.gap
"""

from __future__ import annotations

from ..errors import SitingError
from ..settings import (
    DEFAULT_CANDIDATE_MIN_DISTANCE_M,
    DEFAULT_MIP_GAP,
    DEFAULT_RADIUS_M,
    DEFAULT_TIME_LIMIT_S,
    GREEDY_WORK,
    SAME_SITE_M,
)
from .candidates import STATION_KINDS, grid_candidates, station_frame, study_area
from .cover import CoverSets, ProgressFn, TargetIndex, candidate_pairs, check_radius, cover_sets
from .heuristics import GREEDY_GAP, LAGRANGIAN_ITERATIONS, LAGRANGIAN_STARTS
from .mip import MAX_LINKING_ROWS, MCLP_HIGHS_OPTIONS, MCLP_THREADS
from .models import LSCP, MCLP, METHODS
from .plan import SitingPlan, plan_sites
from .whatif import WhatIf, WhatIfResult

__all__ = [
    "DEFAULT_CANDIDATE_MIN_DISTANCE_M",
    "DEFAULT_MIP_GAP",
    "DEFAULT_RADIUS_M",
    "DEFAULT_TIME_LIMIT_S",
    "GREEDY_GAP",
    "GREEDY_WORK",
    "LAGRANGIAN_ITERATIONS",
    "LAGRANGIAN_STARTS",
    "LSCP",
    "MAX_LINKING_ROWS",
    "MCLP",
    "MCLP_HIGHS_OPTIONS",
    "MCLP_THREADS",
    "METHODS",
    "SAME_SITE_M",
    "STATION_KINDS",
    "CoverSets",
    "ProgressFn",
    "SitingError",
    "SitingPlan",
    "TargetIndex",
    "WhatIf",
    "WhatIfResult",
    "candidate_pairs",
    "check_radius",
    "cover_sets",
    "grid_candidates",
    "plan_sites",
    "station_frame",
    "study_area",
]


def __getattr__(name: str) -> object:
    """``GREEDY_BUDGET_S`` is deprecated (see :mod:`geo.settings`); it warns and gives its old value."""
    if name == "GREEDY_BUDGET_S":
        from .. import settings

        return getattr(settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
