"""The embedded demo district: a generated, deterministic Shenzhen-like street.

Nothing here is real data.  :func:`build_demo` lays out a dense street (街道) of
about 3 x 2.7 km north of Futian, named "示范街道（生成的演示数据）" /
"Demo street (generated)", with everything a life-circle study needs:

* a walking and driving network: ``d.network`` is a
  :class:`~lifecircle.geo.network.WalkNetwork` every function accepts, ``d.graph``
  the osmnx-style ``networkx.MultiDiGraph`` in WGS84.  Arterials are modelled as
  a carriageway (``foot=no``) between two sidewalks that meet only at
  signalised crossings; an expressway with ramps and one footbridge, local
  streets with dead ends and missing links, an urban village (城中村) of narrow
  alleys, gated compounds (小区) reachable only through their gates, and parks
  with loop paths (:mod:`.streets`, :mod:`.blocks`, :mod:`.villages`);
* facilities of 17 kinds with realistic gaps (:mod:`.facilities`): 党群服务中心,
  党群服务站, 公园, 社康中心, and the schools, kindergartens, childcare, elderly
  care, nursing homes, culture, sports, markets, police, libraries, 驿站 and
  社康站 (community health stations) an evaluation by GB 50180-2018 needs, placed
  so that its 5-, 10- and 15-minute circles are complete in some 社区 and not in
  others; parks as polygons with their area;
* residential buildings with population and generated age cohorts
  (:mod:`.population`), the compounds and the village as polygons, the street
  and community (社区) boundaries, candidate sites for new micro-stations, and
  the parking lots and short compounds of a shared-parking (错时共享停车) study
  (:mod:`.parking`); writers for all of it (:mod:`.files`).

The layout is built in local metres, placed in EPSG:32650 (UTM 50N) so that its
centre lies at about lon 114.06, lat 22.56, and converted to WGS84.  Every
GeoDataFrame carries ``attrs["source"] = SOURCE`` so the data can never be
mistaken for a survey.

Typical use::

    from lifecircle.geo import coverage, demo
    d = demo.build_demo()
    coverage.compute_coverage(d.network, d.facilities, d.demand).summary()
"""

from __future__ import annotations

from ..settings import DEFAULT_SEED
from ._base import METRIC_CRS, NAME_EN, NAME_ZH, SOURCE
from .district import COHORT_COLUMNS, LAYERS, DemoDistrict, build_demo
from .facilities import AMENITY_KINDS, MAP_KINDS
from .files import write_boundaries, write_demo_files

__all__ = [
    "SOURCE",
    "NAME_ZH",
    "NAME_EN",
    "METRIC_CRS",
    "DEFAULT_SEED",
    "LAYERS",
    "COHORT_COLUMNS",
    "AMENITY_KINDS",
    "MAP_KINDS",
    "DemoDistrict",
    "build_demo",
    "write_boundaries",
    "write_demo_files",
]
