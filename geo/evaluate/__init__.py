"""Life-circle evaluation by a standard: complete circles for every resident, and the gap ledger.

::

    from lifecircle.geo import evaluate
    ev = evaluate.evaluate(net, facilities, demand, standard="gb50180-2018", units=communities)
    ev.summary()            # shares of people in a complete circle per tier, kind, cohort, unit
    ev.to_geodataframe()    # one feature per demand unit: complete_<tier>, missing_<tier>, ...
    ev.ledger()             # 问题台账: one row per 社区 x tier x missing kind, with a remedy
"""

from .engine import Evaluation, evaluate
from .packs import CapacityRule, Cohort, Condition, KindRule, Standard, Tier, list_standards, load_standard

__all__ = [
    "evaluate",
    "Evaluation",
    "load_standard",
    "list_standards",
    "Standard",
    "Tier",
    "KindRule",
    "Cohort",
    "CapacityRule",
    "Condition",
]
