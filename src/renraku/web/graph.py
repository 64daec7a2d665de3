"""The journey drawn as a graph: a pure layout of a journey definition and its SVG.

Activities are nodes, transitions are edges. Layers follow the longest path from the start
activity (edges that lead back up the graph are drawn on the side as loops), so a call -> wait ->
split -> SMS chain reads top to bottom, which also suits a phone's narrow screen. Each node shows
its live counts; each edge leaving a split shows the share of participants that took it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

from renraku.domain.journeys.model import Activity, build_journey

NODE_W = 190
NODE_H = 72
H_GAP = 28
V_GAP = 64
MARGIN = 16
LANE_W = 22  # each edge that skips layers or loops back runs in its own lane on the right
LABEL_ROOM = 80

KIND_LABELS = {
    "VOICE": "Call",
    "CUSTOM": "Custom (call)",
    "SMS": "SMS",
    "EMAIL": "Email",
    "PUSH": "Push",
    "Wait": "Wait",
    "WaitForEvent": "Wait for event",
    "ConditionalSplit": "Yes/no split",
    "MultiCondition": "Multivariate split",
    "RandomSplit": "Random split",
    "Holdout": "Holdout",
    "ContactCenter": "Contact center",
    "End": "End",
}
SENDS = ("VOICE", "CUSTOM", "SMS", "EMAIL", "PUSH", "ContactCenter")


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    description: str
    layer: int
    x: float
    y: float
    metrics: Mapping[str, int] = field(default_factory=dict)

    @property
    def waiting(self) -> int:
        return self.metrics.get("ENDPOINT_WAITING", 0)

    @property
    def completed(self) -> int:
        return self.metrics.get("COMPLETED", 0)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    count: int | None  # participants that took the edge, when the activity records branches
    percent: float | None  # share of the source's completions, for activities with several exits
    back: bool  # leads to an earlier layer (a loop)
    lane: int | None = None  # side lane of an edge that skips layers or loops back


@dataclass(frozen=True)
class Graph:
    nodes: dict[str, Node]
    edges: list[Edge]
    width: float
    height: float
    start: str
    lanes_x: float = 0.0  # where the first side lane runs


def _int_metrics(raw: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for k, v in raw.items():
        try:
            out[str(k)] = int(v)
        except (TypeError, ValueError):
            continue
    return out


def _order(acts: Mapping[str, Activity], start: str) -> tuple[list[str], set[tuple[str, str]]]:
    """Activities in discovery order from ``start`` (then the unreachable ones), and the back
    edges (those closing a cycle in that depth-first walk)."""
    seen: list[str] = []
    on_stack: set[str] = set()
    back: set[tuple[str, str]] = set()

    def visit(a: str) -> None:
        seen.append(a)
        on_stack.add(a)
        for _, t in acts[a].successors():
            if t not in acts:
                continue
            if t in on_stack:
                back.add((a, t))
            elif t not in seen:
                visit(t)
        on_stack.discard(a)

    roots = ([start] if start in acts else []) + list(acts)
    for r in roots:
        if r not in seen:
            visit(r)
    return seen, back


def layout(definition: Mapping[str, Any], metrics: Mapping[str, Mapping[str, Any]]) -> Graph:
    """Place every activity of ``definition``; ``metrics`` maps activity id -> metric -> count
    (the ``Metrics`` of each entry of ``services.journeys.metrics()["Activities"]``)."""
    journey = build_journey("", "", 0, definition)
    acts = dict(journey.activities)
    order, back = _order(acts, journey.start_activity)
    layer = dict.fromkeys(order, 0)
    # Longest path over forward edges; discovery order is a topological order of them.
    for _ in range(len(order)):
        changed = False
        for a in order:
            for _, t in acts[a].successors():
                if t in acts and (a, t) not in back and layer[t] < layer[a] + 1:
                    layer[t] = layer[a] + 1
                    changed = True
        if not changed:
            break
    rows: dict[int, list[str]] = {}
    for a in order:
        rows.setdefault(layer[a], []).append(a)
    # One barycentre pass: a node sits under the mean position of the nodes leading to it.
    position: dict[str, float] = {}
    for depth in sorted(rows):
        row = rows[depth]
        preds: dict[str, list[float]] = {a: [] for a in row}
        for a, p in position.items():
            for _, t in acts[a].successors():
                if t in preds:
                    preds[t].append(p)
        row.sort(key=lambda a: sum(preds[a]) / len(preds[a]) if preds[a] else 0.0)
        for i, a in enumerate(row):
            position[a] = float(i)
    widest = max((len(r) for r in rows.values()), default=1)
    body_w = widest * NODE_W + (widest - 1) * H_GAP
    height = 2 * MARGIN + len(rows) * NODE_H + max(len(rows) - 1, 0) * V_GAP
    nodes: dict[str, Node] = {}
    for depth, row in rows.items():
        row_w = len(row) * NODE_W + (len(row) - 1) * H_GAP
        left = MARGIN + (widest * NODE_W + (widest - 1) * H_GAP - row_w) / 2
        for i, a in enumerate(row):
            act = acts[a]
            nodes[a] = Node(
                id=a,
                kind=act.kind,
                description=act.description,
                layer=depth,
                x=left + i * (NODE_W + H_GAP),
                y=MARGIN + depth * (NODE_H + V_GAP),
                metrics=_int_metrics(metrics.get(a, {})),
            )
    edges: list[Edge] = []
    lanes = 0
    for a in order:
        exits = [(label, t) for label, t in acts[a].successors() if t in acts]
        done = nodes[a].metrics.get("COMPLETED", 0)
        for label, t in exits:
            taken = nodes[a].metrics.get(f"BRANCH_{label}")
            count = taken if taken is not None else (done if len(exits) == 1 else None)
            percent = None
            if len(exits) > 1 and done > 0:
                percent = 100.0 * (taken or 0) / done
            is_back = (a, t) in back
            lane = None
            if is_back or layer[t] != layer[a] + 1:
                lane, lanes = lanes, lanes + 1
            edges.append(Edge(a, t, label, count, percent, is_back, lane))
    width = 2 * MARGIN + body_w + (lanes * LANE_W + LABEL_ROOM if lanes else 0)
    return Graph(
        nodes,
        edges,
        float(width),
        float(height),
        journey.start_activity,
        lanes_x=MARGIN + body_w + LANE_W,
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def edge_caption(edge: Edge) -> str:
    """The text on an edge: the branch name (for splits) and the share that took it."""
    name = "" if edge.label == "Next" else edge.label
    if edge.percent is not None:
        return f"{name} {edge.percent:.0f}%".strip()
    return name


def node_lines(node: Node) -> tuple[str, str, str]:
    """The three lines of a node: its id, its kind, its live counts."""
    kind = KIND_LABELS.get(node.kind, node.kind)
    counts = f"now {node.waiting} · done {node.completed}"
    if node.kind in SENDS:
        counts += f" · sent {node.metrics.get('SENT', 0)}"
    return _short(node.id, 24), kind, counts


def _edge_path(graph: Graph, edge: Edge) -> tuple[str, float, float]:
    """The SVG path of an edge and where its caption goes."""
    s, t = graph.nodes[edge.source], graph.nodes[edge.target]
    if edge.lane is not None:
        # Out of the source's right side, down (or up) its own lane, into the target's right side.
        lx = graph.lanes_x + edge.lane * LANE_W
        x1, y1 = s.x + NODE_W, s.y + NODE_H / 2 + 10
        x2, y2 = t.x + NODE_W, t.y + NODE_H / 2 - 10
        r = 8.0 if y2 > y1 else -8.0
        path = (
            f"M{x1:.1f},{y1:.1f} H{lx - 8:.1f} Q{lx:.1f},{y1:.1f} {lx:.1f},{y1 + r:.1f} "
            f"V{y2 - r:.1f} Q{lx:.1f},{y2:.1f} {lx - 8:.1f},{y2:.1f} H{x2:.1f}"
        )
        return path, x1 + 2, y1 - 5
    sx, sy = s.x + NODE_W / 2, s.y + NODE_H
    tx, ty = t.x + NODE_W / 2, t.y
    bend = V_GAP / 2
    path = (
        f"M{sx:.1f},{sy:.1f} C{sx:.1f},{sy + bend:.1f} {tx:.1f},{ty - bend:.1f} {tx:.1f},{ty:.1f}"
    )
    return path, (sx + tx) / 2 + 6, (sy + ty) / 2 + 4


def render_svg(graph: Graph, *, title: str = "Journey") -> str:
    """The graph as an inline SVG element: its natural size, shrinking with its container (CSS
    max-width) on narrow screens."""
    out = [
        f'<svg class="journey-graph" width="{graph.width:.0f}" height="{graph.height:.0f}" '
        f'viewBox="0 0 {graph.width:.0f} {graph.height:.0f}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]
    for edge in graph.edges:
        path, lx, ly = _edge_path(graph, edge)
        cls = "edge back" if edge.back else "edge"
        out.append(
            f'<g class="{cls}" data-source="{escape(edge.source)}" '
            f'data-target="{escape(edge.target)}" data-label="{escape(edge.label)}">'
            f'<path d="{path}" marker-end="url(#arrow)"/>'
        )
        caption = edge_caption(edge)
        if caption:
            out.append(
                f'<text class="edge-label" x="{lx:.1f}" y="{ly:.1f}">{escape(caption)}</text>'
            )
        out.append("</g>")
    for node in graph.nodes.values():
        name, kind, counts = node_lines(node)
        start = " start" if node.id == graph.start else ""
        tip = ", ".join(f"{k} {v}" for k, v in sorted(node.metrics.items())) or "no activity yet"
        out.append(
            f'<g class="node kind-{escape(node.kind)}{start}" data-activity="{escape(node.id)}" '
            f'data-waiting="{node.waiting}" data-completed="{node.completed}">'
            f"<title>{escape(node.id)}: {escape(node.description or kind)} ({escape(tip)})</title>"
            f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
            f'<text class="node-name" x="{node.x + 10:.1f}" y="{node.y + 22:.1f}">'
            f"{escape(name)}</text>"
            f'<text class="node-kind" x="{node.x + 10:.1f}" y="{node.y + 41:.1f}">'
            f"{escape(kind)}</text>"
            f'<text class="node-counts" x="{node.x + 10:.1f}" y="{node.y + 60:.1f}">'
            f"{escape(counts)}</text></g>"
        )
    out.append("</svg>")
    return "".join(out)
