"""City-scale coverage paths against independent references: scipy.ndimage, shapely, brute force."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy import ndimage

from geo import coverage, demo, discs


@pytest.mark.parametrize("shape", [(300, 500), (5, 4), (1, 30), (9, 9)])
@pytest.mark.parametrize("reach", [1, 3, 7])
def test_box_dilation_equals_scipy_maximum_filter(shape, reach):
    grid = (np.random.default_rng(reach).random(shape) < 0.05).astype(np.uint8)
    size = 2 * reach + 1
    want = ndimage.maximum_filter1d(ndimage.maximum_filter1d(grid, size, axis=0, mode="constant"), size, axis=1)
    got = discs._box_any(discs._box_any(grid, reach).T, reach).T
    assert np.array_equal(got, want.astype(bool))


def test_gap_unit_counts_equal_brute_force():
    district = demo.build_demo()
    result = coverage.compute_coverage(district.network, district.facilities, district.demand, tiers=(300, 1000))
    kind = result.kinds[0]
    gaps = result.gaps(kind, 300).to_crs(district.network.crs)
    miss = result.samples.reachable & (result.sample_dist[kind] > 300) & (result.samples.weight > 0)
    pts = shapely.points(result.samples.xy[miss])
    units = result.samples.unit[miss]
    for poly, n_units in zip(gaps.geometry.values, gaps["n_units"].to_numpy()):
        inside = shapely.contains(poly, pts)
        assert n_units == len(set(units[inside].tolist()))
