"""The other tools, written the way their users write them, on the same graph.

Every anchor answers the same question as lifecircle, on the same network:
facilities and demand sit at network nodes (the anchors cannot place a point
mid-edge), so distances can be compared node for node.

* networkx: :func:`networkx.multi_source_dijkstra_path_length` with a cutoff
  (the path-less variant: faster than ``multi_source_dijkstra``, which also
  builds every path, so the anchor is the strongest networkx offers).
* osmnx's isochrone recipe: ``nx.ego_graph(G, node, radius, distance="length")``
  and the convex hull of the reached nodes (osmnx-examples, "isolines"). The
  hull is taken with ``shapely.MultiPoint(...).convex_hull``, the same
  polygon as the example's ``GeoSeries(points).union_all().convex_hull`` but
  faster, so again the anchor is not weakened.
* pandana: ``Network`` (contraction hierarchies, built once and timed apart)
  and ``set_pois`` + ``nearest_pois`` with a maximum distance.
* scipy: ``csgraph.dijkstra(min_only=True)`` from the facility nodes on the
  same CSR matrix: the floor a CSR-based engine sits on.
"""

from __future__ import annotations

import numpy as np
import shapely

from .common import quiet_stdout


def networkx_graph(net):
    """An undirected ``networkx.Graph`` of the network: node ``x``/``y``, edge ``length``.

    The smallest graph both networkx anchors need (osmnx's own graphs are
    MultiDiGraphs that also carry OSM tags and geometry, and are larger).
    """
    import networkx as nx

    graph = nx.Graph()
    xy = net.node_xy.tolist()
    graph.add_nodes_from((i, {"x": x, "y": y}) for i, (x, y) in enumerate(xy))
    graph.add_weighted_edges_from(
        zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_length.tolist()), weight="length"
    )
    return graph


def networkx_nearest(graph, fac_nodes, dem_nodes, limit: float) -> np.ndarray:
    """Distance from each demand node to the nearest facility node (``inf`` beyond ``limit``)."""
    import networkx as nx

    dist = nx.multi_source_dijkstra_path_length(graph, set(int(n) for n in fac_nodes), cutoff=limit, weight="length")
    get = dist.get
    return np.fromiter((get(n, np.inf) for n in dem_nodes.tolist()), dtype=float, count=len(dem_nodes))


def scipy_nearest(csr, fac_nodes: np.ndarray, dem_nodes: np.ndarray, limit: float) -> np.ndarray:
    """The floor: one ``dijkstra(min_only=True)`` from the facility nodes on the CSR matrix."""
    from scipy.sparse.csgraph import dijkstra

    dist = dijkstra(csr, directed=True, indices=fac_nodes, limit=limit, min_only=True)
    return dist[dem_nodes]


def osmnx_isochrones(graph, fac_nodes, tiers) -> list[tuple[int, float, shapely.Geometry, list]]:
    """osmnx's isochrone recipe: ego graph within each tier, convex hull of its nodes.

    Returns
    -------
    list of (facility position, tier, hull polygon, reached node ids)
    """
    import networkx as nx

    out = []
    for k, node in enumerate(int(n) for n in fac_nodes):
        for tier in sorted(tiers, reverse=True):
            sub = nx.ego_graph(graph, node, radius=tier, distance="length")
            nodes = list(sub.nodes)
            hull = shapely.MultiPoint([(d["x"], d["y"]) for _, d in sub.nodes(data=True)]).convex_hull
            out.append((k, float(tier), hull, nodes))
    return out


class PandanaAnchor:
    """pandana's network (built once) answering nearest-facility queries."""

    def __init__(self, net) -> None:
        import pandana
        import pandas as pd

        self.n_nodes = net.n_nodes
        nodes = pd.DataFrame({"x": net.node_xy[:, 0], "y": net.node_xy[:, 1]})
        edges = pd.DataFrame(
            {"from": net.edge_u.astype(np.int64), "to": net.edge_v.astype(np.int64), "length": net.edge_length}
        )
        with quiet_stdout():  # pandana prints its progress from C++
            self.network = pandana.Network(
                nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["length"]], twoway=True
            )
        self.node_xy = net.node_xy

    def nearest(self, fac_nodes: np.ndarray, dem_nodes: np.ndarray, limit: float) -> np.ndarray:
        """``set_pois`` + ``nearest_pois(num_pois=1)`` within ``limit``, read at the demand nodes."""
        import pandas as pd

        xy = self.node_xy[fac_nodes]
        with quiet_stdout():
            self.network.set_pois("facility", limit, 1, pd.Series(xy[:, 0]), pd.Series(xy[:, 1]))
            table = self.network.nearest_pois(limit, "facility", num_pois=1, max_distance=np.inf)
        col = table.iloc[:, 0]
        if len(col) == self.n_nodes and (col.index.to_numpy() == np.arange(self.n_nodes)).all():
            return col.to_numpy()[dem_nodes]
        return col.reindex(dem_nodes).to_numpy(dtype=float, na_value=np.inf)


def edge_geometry_lookup(net) -> dict[tuple[int, int], shapely.Geometry]:
    """``{(u, v): LineString}`` of every edge (both orientations), as an osmnx graph holds them."""
    lines = net.edge_lines
    out = {}
    for e, (u, v) in enumerate(zip(net.edge_u.tolist(), net.edge_v.tolist())):
        out[(u, v)] = out[(v, u)] = lines[e]
    return out


def osmnx_street_buffers(graph, edge_geom, fac_nodes, tiers, *, edge_buff: float = 25.0, node_buff: float = 50.0):
    """osmnx's other isochrone recipe (``make_iso_polys``): buffered reached edges and nodes, unioned.

    Whole edges of the ego graph (not cut at the tier) buffered by ``edge_buff``
    and its nodes by ``node_buff``, then one union per polygon. The example
    builds GeoSeries and looks edges up row by row; this does the same
    geometry with vectorised shapely calls and ``quad_segs=3`` like lifecircle,
    so the anchor is not weakened.
    """
    import networkx as nx

    out = []
    for k, node in enumerate(int(n) for n in fac_nodes):
        for tier in sorted(tiers, reverse=True):
            sub = nx.ego_graph(graph, node, radius=tier, distance="length")
            pts = shapely.points([(d["x"], d["y"]) for _, d in sub.nodes(data=True)])
            lines = np.array([edge_geom[(u, v)] for u, v in sub.edges()], dtype=object)
            parts = np.concatenate(
                [shapely.buffer(pts, node_buff, quad_segs=3), shapely.buffer(lines, edge_buff, quad_segs=3)]
            )
            out.append((k, float(tier), shapely.union_all(parts)))
    return out
