"""Batch runs over many areas on Dask (dask.distributed).

A plan (:mod:`.plan`) lists areas; :func:`run_plan` computes every area's
``lifecircle coverage`` outputs (and its evaluation when a standard is given)
as one Dask task per area - on a local cluster it starts, or on any running
cluster through a :class:`distributed.Client` - and returns one table over
all areas.  Areas are cut from one large extract when asked (:mod:`.cut`),
and one large area may be split into exact tiles (:mod:`.tiles`).
"""

from __future__ import annotations

from .plan import Area, Plan, read_plan
from .run import run_plan
from .table import write_table

__all__ = ["Area", "Plan", "read_plan", "run_plan", "write_table"]
