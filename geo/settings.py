"""Every default lifecircle uses, in one place.

The command line's ``argparse`` defaults, the app and the Python functions all read these
names, so a default is changed here and nowhere else.  Values are plain module constants
(as in ``osmnx.settings``); a notebook may assign a new value before calling a function that
reads it at call time, but functions' keyword defaults are bound at import.

Sources: the tiers and walking speeds are discussed in :mod:`geo.standards`; the rest are
engineering choices documented where they are used.
"""

from __future__ import annotations

__all__ = [
    "TIER_METRES",
    "DEFAULT_TIERS",
    "DEFAULT_SPEED_M_PER_MIN",
    "ELDERLY_SPEED_M_PER_MIN",
    "DEFAULT_SNAP_LIMIT_M",
    "DEFAULT_BUFFER_M",
    "MAX_BUFFER_M",
    "DEFAULT_TOUCH_M",
    "DEFAULT_SAMPLE_SPACING_M",
    "DEFAULT_GAP_RADIUS_M",
    "DEFAULT_RADIUS_M",
    "DEFAULT_TIME_LIMIT_S",
    "DEFAULT_MIP_GAP",
    "GREEDY_WORK",
    "SAME_SITE_M",
    "DEFAULT_CANDIDATE_MIN_DISTANCE_M",
    "DEFAULT_MAX_WALK_M",
    "DEFAULT_WINDOW",
    "DEFAULT_FAIRNESS",
    "DEFAULT_PORT",
    "DEFAULT_HOST",
    "DEFAULT_STATION_KINDS",
    "DEFAULT_STANDARD",
    "DEFAULT_SEED",
    "MAX_CANDIDATES_PER_SESSION",
    "MAX_SESSIONS",
    "MAX_PENDING_SESSIONS",
    "UNUSED_SESSION_LIFETIME_S",
    "CHECK_UNUSED_SESSIONS_S",
]

# ---------------------------------------------------------------- tiers and speeds
#: Named tiers in metres of network walk (GB 50180-2018: 5 min ~300 m, 10 min ~500 m,
#: 15 min 800-1000 m; the upper end is taken, as TD/T 1062-2021 does).
TIER_METRES: dict[str, float] = {"5min": 300.0, "10min": 500.0, "15min": 1000.0}
#: Default tiers: the 5- and 15-minute circles.
DEFAULT_TIERS: tuple[float, ...] = (300.0, 1000.0)
#: Default walking speed in metres per minute (about 4 km/h).
DEFAULT_SPEED_M_PER_MIN: float = 66.7
#: Walking speed of an elderly profile, metres per minute (about 3 km/h; see
#: docs/standards.md for the evidence, e.g. Knoblauch et al. 1996: 0.97 m/s for 65+).
ELDERLY_SPEED_M_PER_MIN: float = 50.0

# ---------------------------------------------------------------- network joins and areas
#: A point farther than this from every walkable edge is unreachable (reported, never dropped).
DEFAULT_SNAP_LIMIT_M: float = 300.0
#: Half-width of the band drawn around reached streets for a service-area polygon.
DEFAULT_BUFFER_M: float = 25.0
#: The widest band accepted (wider bands swallow whole blocks).
MAX_BUFFER_M: float = 50.0
#: An area facility (a park polygon) is reached from walkable edges within this distance of it.
DEFAULT_TOUCH_M: float = 20.0

# ---------------------------------------------------------------- coverage
#: Spacing of the sample points that spread polygon demand along residential streets.
DEFAULT_SAMPLE_SPACING_M: float = 50.0
#: Radius around each unserved resident merged into a gap polygon.
DEFAULT_GAP_RADIUS_M: float = 80.0

# ---------------------------------------------------------------- siting
#: The seed's practice: a station within about 1 km of everyone (the 15-minute circle).
DEFAULT_RADIUS_M: float = 1000.0
#: HiGHS time limit for the exact models, seconds.
DEFAULT_TIME_LIMIT_S: float = 60.0
#: Relative MIP gap at which HiGHS stops and reports a proven optimum.
DEFAULT_MIP_GAP: float = 1e-9
#: Work budget of the greedy + swap heuristic's improvement phase (its Lagrangian bound and the
#: swap searches from its solutions), in covering pairs and swap-table cells read: a count, not
#: seconds, so the same instance gives the same sites on every machine.  The 100,000 x 10,000
#: city instance (1.2M pairs) spends it in about 200 subgradient iterations and a few searches,
#: ~1 s of CPU on a 2-core machine (K=200: 0.02 % below the optimum); small instances stop long
#: before it (converged bound, or proven within 0.01 %).
GREEDY_WORK: float = 3.5e8
#: A candidate this close (metres, straight line) to an existing station is that station.
SAME_SITE_M: float = 10.0
#: Generated candidates closer than this (network metres) to an existing station are left out.
DEFAULT_CANDIDATE_MIN_DISTANCE_M: float = 100.0
#: Kinds that count as existing stations when siting micro-stations.
DEFAULT_STATION_KINDS: str = "party_center,micro_station"

# ---------------------------------------------------------------- parking
#: Longest walk from a shared lot to a residential compound's gate, metres.
DEFAULT_MAX_WALK_M: float = 500.0
#: Default night window of residents' parking demand.
DEFAULT_WINDOW: str = "19:00-08:00"
#: Share of each compound's shortfall placed before any compound gets more (0: off).
DEFAULT_FAIRNESS: float = 0.0

# ---------------------------------------------------------------- evaluation and demo
#: The rule pack used when none is named.
DEFAULT_STANDARD: str = "gb50180-2018"
#: The demo district's seed.
DEFAULT_SEED: int = 2026

# ---------------------------------------------------------------- app server (lifecircle serve / demo)
#: Most what-if candidates one planner's session holds (each keeps its walk distances to every
#: demand sample, up to ~4 MB on a real district); beyond it the page says so. >= the largest K
#: "suggest sites" offers (30).
MAX_CANDIDATES_PER_SESSION: int = 40
#: Most planner sessions (browsers connected, each ~1-2 MB plus its candidates) served at once;
#: beyond it a new page gets HTTP 503 "busy, try again".
MAX_SESSIONS: int = 40
#: Most served pages whose browser has not connected yet (each a few tens of kB until it does).
MAX_PENDING_SESSIONS: int = 200
#: Seconds a session without a connected browser is kept (a page not yet connected, or a tab
#: closed); Bokeh's default is 15 s, Panel's old setting here was 300 s.
UNUSED_SESSION_LIFETIME_S: float = 20.0
#: How often, in seconds, the server discards the sessions unused for that long.
CHECK_UNUSED_SESSIONS_S: float = 5.0
#: Port and address the app listens on by default (loopback: nobody else can reach it).
DEFAULT_PORT: int = 5006
DEFAULT_HOST: str = "127.0.0.1"


#: Names kept for old code, each with what replaced it.
_DEPRECATED = {
    "GREEDY_BUDGET_S": (
        1.0,
        "GREEDY_BUDGET_S (CPU seconds) is no longer read: the greedy method's improvement phase "
        "has a deterministic work budget, geo.settings.GREEDY_WORK (covering pairs and table cells read)",
    ),
}


def __getattr__(name: str) -> object:
    """Answer a deprecated name with its old value and a DeprecationWarning saying what replaced it."""
    if name in _DEPRECATED:
        import warnings

        value, message = _DEPRECATED[name]
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
