"""The journey graph: layout from the definition, branch shares from metrics, the SVG."""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from renraku.web.graph import NODE_H, NODE_W, edge_caption, layout, node_lines, render_svg

SEED = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "seed-journey.json").read_text()
)
SVG = "{http://www.w3.org/2000/svg}"


def _loop_journey() -> dict[str, Any]:
    return {
        "StartActivity": "sms",
        "Activities": {
            "sms": {"SMS": {"TemplateName": "t", "NextActivity": "wait"}},
            "wait": {"Wait": {"WaitTime": {"WaitFor": "PT1H"}, "NextActivity": "check"}},
            "check": {
                "ConditionalSplit": {
                    "Condition": {"Conditions": [], "Operator": "ALL"},
                    "TrueActivity": "sms",
                    "FalseActivity": "end",
                }
            },
            "end": {"End": {}},
        },
    }


def test_seed_journey_is_laid_out_top_to_bottom_by_longest_path_from_the_start() -> None:
    graph = layout(SEED, {})
    layers = {a: n.layer for a, n in graph.nodes.items()}
    assert layers["call"] == 0
    assert layers["wait-call"] == 1
    assert layers["still-pending-after-call"] == 2
    assert layers["sms"] == 3
    assert layers["email"] == 6
    # "done" is reached from both splits and from email: it sits below all of them.
    assert layers["done"] == 7
    assert all(n.y == 16 + n.layer * (NODE_H + 64) for n in graph.nodes.values())
    assert graph.height >= 8 * NODE_H


def test_nodes_of_one_layer_never_overlap_and_fit_inside_the_drawing() -> None:
    definition = {
        "StartActivity": "split",
        "Activities": {
            "split": {
                "RandomSplit": {
                    "Branches": [{"Percentage": 50, "NextActivity": a} for a in ("a", "b", "c")]
                }
            },
            "a": {"End": {}},
            "b": {"End": {}},
            "c": {"End": {}},
        },
    }
    graph = layout(definition, {})
    row = sorted((n for n in graph.nodes.values() if n.layer == 1), key=lambda n: n.x)
    assert [n.id for n in row] == ["a", "b", "c"]
    for left, right in itertools.pairwise(row):
        assert left.x + NODE_W < right.x
    assert all(n.x >= 0 and n.x + NODE_W <= graph.width for n in graph.nodes.values())


def test_split_edges_carry_the_share_of_completions_that_took_each_branch() -> None:
    metrics = {
        "still-pending-after-call": {"COMPLETED": "8", "BRANCH_True": "6", "BRANCH_False": "2"},
        "call": {"COMPLETED": "8", "SENT": "8", "ENDPOINT_WAITING": "1"},
    }
    graph = layout(SEED, metrics)
    split = {e.label: e for e in graph.edges if e.source == "still-pending-after-call"}
    assert split["True"].target == "sms"
    assert split["True"].percent == 75.0
    assert split["False"].target == "done"
    assert split["False"].percent == 25.0
    assert edge_caption(split["True"]) == "True 75%"
    single = next(e for e in graph.edges if e.source == "call")
    assert single.percent is None
    assert single.count == 8
    assert edge_caption(single) == ""
    assert node_lines(graph.nodes["call"])[2] == "now 1 · done 8 · sent 8"


def test_a_split_nobody_has_left_yet_shows_no_percentage() -> None:
    graph = layout(SEED, {})
    split = [e for e in graph.edges if e.source == "still-pending-after-sms"]
    assert {e.percent for e in split} == {None}
    assert {edge_caption(e) for e in split} == {"True", "False"}


def test_edges_that_skip_layers_run_in_their_own_side_lanes() -> None:
    graph = layout(SEED, {})
    laned = {(e.source, e.target): e.lane for e in graph.edges if e.lane is not None}
    assert laned == {
        ("still-pending-after-call", "done"): 0,
        ("still-pending-after-sms", "done"): 1,
    }
    assert graph.lanes_x + 2 * 22 <= graph.width
    straight = [e for e in graph.edges if e.lane is None]
    assert all(graph.nodes[e.target].layer == graph.nodes[e.source].layer + 1 for e in straight)


def test_an_edge_back_to_an_earlier_activity_is_a_loop_and_is_drawn_dashed() -> None:
    graph = layout(_loop_journey(), {})
    back = [e for e in graph.edges if e.back]
    assert [(e.source, e.target, e.label) for e in back] == [("check", "sms", "True")]
    root = ET.fromstring(render_svg(graph))
    loops = [g for g in root.iter(f"{SVG}g") if g.get("class") == "edge back"]
    assert [g.get("data-target") for g in loops] == ["sms"]


def test_svg_is_well_formed_with_one_node_per_activity_and_escapes_names() -> None:
    definition = json.loads(json.dumps(SEED))
    definition["Activities"]["done"]["Description"] = '<script>alert("x")</script> 完了'
    svg = render_svg(layout(definition, {"call": {"ENDPOINT_WAITING": 3}}), title="連絡 & co")
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    assert root.get("aria-label") == "連絡 & co"
    assert root.get("viewBox", "").startswith("0 0 ")
    nodes = {g.get("data-activity"): g for g in root.iter(f"{SVG}g") if g.get("data-activity")}
    assert set(nodes) == set(SEED["Activities"])
    assert nodes["call"].get("data-waiting") == "3"
    assert "start" in (nodes["call"].get("class") or "")
    title = nodes["done"].find(f"{SVG}title")
    assert title is not None
    assert '<script>alert("x")</script> 完了' in (title.text or "")
