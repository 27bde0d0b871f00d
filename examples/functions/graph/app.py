"""Route/influence function over a weighted graph given in the event.

Request: {"edges": [[src, dst, weight], ...], "source": ..., "target": ...}
Response: the shortest path (Dijkstra), its length, and the top PageRank nodes.
"""
import json

import igraph as ig
import networkx as nx  # the prototype was written with networkx


def build_graph(edges):
    names = sorted({str(n) for e in edges for n in e[:2]})
    index = {name: i for i, name in enumerate(names)}
    g = ig.Graph(n=len(names), edges=[(index[str(a)], index[str(b)]) for a, b, _ in edges],
                 directed=True)
    g.vs["name"] = names
    g.es["weight"] = [float(w) for _, _, w in edges]
    return g


def handler(event, context):
    g = build_graph(event["edges"])
    src, dst = str(event["source"]), str(event["target"])
    path = g.get_shortest_paths(src, to=dst, weights="weight", output="vpath")[0]
    length = g.distances(src, dst, weights="weight")[0][0]
    ranks = g.pagerank(weights="weight", directed=True)
    top = sorted(zip(g.vs["name"], ranks), key=lambda t: (-t[1], t[0]))[: event.get("top", 3)]
    body = {
        "path": [g.vs[v]["name"] for v in path],
        "length": length,
        "pagerank": [[name, round(r, 6)] for name, r in top],
    }
    return {"statusCode": 200, "body": json.dumps(body)}
