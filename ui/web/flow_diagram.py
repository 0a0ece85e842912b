"""A flow drawn as an SVG diagram on the server: states as boxes in layers, transitions as labelled arrows.

ui/web/flow_layout.py places the boxes. Here the arrows are routed: forward transitions run
down through their waypoints, and backward transitions and loops run up in lanes on the
right of the boxes. The arrows of one transition into one state (a bundle) end at the same
point, share their trunk or lane, and carry one label. Backward bundles whose heights do
not overlap share a lane. Labels are placed one by one, each at the first of its candidate
spots that covers no box and no label placed before.

The initial state has a start mark and a thick border, and a final state has a double
border. Automatic transitions are dashed. Approval transitions are drawn in their own
colour, with the approval mode in the label.

Every label is escaped. The drawing uses SVG presentation attributes only, because the
pages' content security policy rejects inline styles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

from markupsafe import Markup, escape

from metamodel import model as m
from ui.web.flow_layout import (
    BOX_HEIGHT,
    FONT_SIZE,
    LABEL_FONT_SIZE,
    LAYER_GAP,
    MARGIN,
    Edge,
    Layout,
    Node,
    edge_label,
    layout,
    text_width,
)

#: Distance between the lanes of the backward transitions, on the right of the boxes.
LANE_GAP = 30
LABEL_HEIGHT = 15

_INK = "#1f2329"
_MUTED = "#646a73"
_PRIMARY = "#1664ff"
_APPROVAL = "#7a3fc2"


@dataclass
class Arrow:
    edge: Edge
    path: str
    #: Half the label's width.
    half: float
    #: Candidate centers of the label, best first, or none when another arrow of the bundle carries the label.
    spots: list[tuple[float, float]]
    #: The largest x the path reaches.
    reach: float
    #: The lowest and highest y of a backward arrow's run up its lane.
    run: tuple[float, float] | None = None
    #: The label's center, once placed.
    label_x: float = 0.0
    label_y: float = 0.0

    def label_box(self, x: float, y: float) -> tuple[float, float, float, float]:
        return x - self.half, y - LABEL_HEIGHT / 2, x + self.half, y + LABEL_HEIGHT / 2


def render_svg(flow: m.Flow, lang: str) -> Markup:
    """Return the flow's diagram as an inline SVG element, labels in `lang`.

    The arrows come first, then the boxes, then the labels, so that no line crosses a label.
    """
    drawn = layout(flow, lang)
    boxes = [node for node in drawn.nodes.values() if node.state is not None]
    arrows = _arrows(drawn, lang)
    _place_labels(arrows, boxes)
    labelled = [arrow for arrow in arrows if arrow.spots]
    reaches = [node.x + node.width for node in drawn.nodes.values()] + [arrow.reach for arrow in arrows]
    left = min([MARGIN, *(arrow.label_x - arrow.half for arrow in labelled)]) - 4
    right = max(reaches + [arrow.label_x + arrow.half for arrow in labelled]) + MARGIN
    bottom = max(node.y + BOX_HEIGHT for node in boxes) + MARGIN
    width = right - left
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-diagram" role="img" width="{width:.0f}" height="{bottom:.0f}" '
        f'viewBox="{left:.0f} 0 {width:.0f} {bottom:.0f}" font-family="sans-serif" font-size="{FONT_SIZE}">',
        f"<title>{escape(flow.label.get(lang))}</title>",
        "<defs>",
        *(f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
          f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>' for name, color in (("plain", _MUTED), ("approval", _APPROVAL))),
        "</defs>",
    ]
    parts.extend(_line(arrow) for arrow in arrows)
    parts.extend(_box(node, lang) for node in boxes)
    parts.extend(_label(arrow, lang) for arrow in labelled)
    parts.append("</svg>")
    return Markup("".join(parts))


def _box(node: Node, lang: str) -> str:
    state = node.state
    assert state is not None  # only state nodes are drawn as boxes
    kind = ""
    if state.initial:
        kind = " initial"
    elif state.final:
        kind = " final"
    parts = [f'<g class="flow-state{kind}" data-state="{escape(state.name)}"><title>{escape(state.name)}</title>',
             f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.width:.1f}" height="{BOX_HEIGHT}" rx="6" fill="#fff" '
             f'stroke="{_PRIMARY if state.initial else _INK}" stroke-width="{2.5 if state.initial else 1.2}"/>']
    if state.final:
        parts.append(f'<rect x="{node.x + 3:.1f}" y="{node.y + 3:.1f}" width="{node.width - 6:.1f}" height="{BOX_HEIGHT - 6}" rx="4" '
                     f'fill="none" stroke="{_INK}" stroke-width="1"/>')
    if state.initial:
        # The start mark of state diagrams: a filled dot with an arrow into the initial state.
        top = node.y - 18
        parts.append(f'<circle cx="{node.center:.1f}" cy="{top:.1f}" r="5" fill="{_INK}"/>'
                     f'<path d="M{node.center:.1f},{top + 5:.1f} V{node.y:.1f}" stroke="{_INK}" stroke-width="1.2" '
                     'marker-end="url(#arrow-plain)"/>')
    parts.append(f'<text x="{node.center:.1f}" y="{node.y + BOX_HEIGHT / 2 + 4.5:.1f}" text-anchor="middle" fill="{_INK}">'
                 f"{escape(state.label.get(lang))}</text></g>")
    return "".join(parts)


def _line(arrow: Arrow) -> str:
    transition = arrow.edge.transition
    approval = transition.approval is not None
    classes = "flow-transition"
    if transition.automatic:
        classes += " automatic"
    if approval:
        classes += " approval"
    dash = ' stroke-dasharray="6 4"' if transition.automatic else ""
    return (f'<g class="{classes}" data-transition="{escape(transition.name)}"><title>{escape(transition.name)}</title>'
            f'<path d="{arrow.path}" fill="none" stroke="{_APPROVAL if approval else _MUTED}" stroke-width="1.3"{dash} '
            f'marker-end="url(#arrow-{"approval" if approval else "plain"})"/></g>')


def _label(arrow: Arrow, lang: str) -> str:
    transition = arrow.edge.transition
    color = _APPROVAL if transition.approval is not None else _MUTED
    return (f'<g class="flow-label" data-transition="{escape(transition.name)}"><title>{escape(transition.name)}</title>'
            f'<rect x="{arrow.label_x - arrow.half:.1f}" y="{arrow.label_y - LABEL_HEIGHT / 2:.1f}" width="{2 * arrow.half:.1f}" '
            f'height="{LABEL_HEIGHT}" rx="3" fill="#fff" fill-opacity="0.9"/>'
            f'<text x="{arrow.label_x:.1f}" y="{arrow.label_y + 3.5:.1f}" text-anchor="middle" font-size="{LABEL_FONT_SIZE}" '
            f'fill="{color}">{escape(edge_label(transition, lang))}</text></g>')


def _arrows(drawn: Layout, lang: str) -> list[Arrow]:
    """Route every arrow and list the spots for its label.

    The labels of the arrows that leave one box for the next layer get different first
    spots along their curves, so that they do not overlap.
    """
    nodes = drawn.nodes
    right_of_layer: dict[int, float] = {}
    for node in nodes.values():
        right_of_layer[node.layer] = max(right_of_layer.get(node.layer, 0.0), node.x + node.width)
    outer = {name: node.x + node.width >= right_of_layer[node.layer] for name, node in nodes.items()}
    starts, ends = _attachments(drawn, outer)
    lanes = _lanes(drawn)
    lane_start = max(right_of_layer.values())
    trunked = {drawn.bundles[index] for index in drawn.waypoints}
    short = [index for index, edge in enumerate(drawn.edges) if not edge.back and drawn.bundles[index] not in trunked]

    arrows: list[Arrow] = []
    lane_runs: dict[int, list[int]] = {}
    labelled: set[int] = set()
    for index, edge in enumerate(drawn.edges):
        source, target = nodes[edge.source], nodes[edge.target]
        bundle = drawn.bundles[index]
        half = (text_width(edge_label(edge.transition, lang), LABEL_FONT_SIZE) + 8) / 2
        if edge.back:
            number = lanes[bundle]
            lane = lane_start + LANE_GAP * number
            points = _back_points(source, target, (starts[index], ends[index]), lane, number, (outer[edge.source], outer[edge.target]))
            along = [y for x, y in points if x == lane]
            arrows.append(Arrow(edge, _orthogonal_path(points), half, [], lane, run=(min(along), max(along))))
            lane_runs.setdefault(bundle, []).append(len(arrows) - 1)
            continue

        waypoints = drawn.waypoints.get(index, [])
        points = [(source.x + source.width * starts[index], source.y + BOX_HEIGHT)]
        for name in waypoints:
            point = nodes[name]
            points += [(point.center, point.y), (point.center, point.y + BOX_HEIGHT)]
        points.append((target.x + target.width * ends[index], target.y))
        arrow = Arrow(edge, _forward_path(points), half, [], max(x for x, _ in points))
        arrows.append(arrow)
        if bundle in trunked:
            # The first arrow through the trunk carries the bundle's label: in the place of the
            # waypoint that `layout` made as wide as the label, else beside the trunk.
            carrier = drawn.label_points.get(bundle)
            if waypoints and bundle not in labelled:
                labelled.add(bundle)
                if carrier is not None:
                    arrow.spots = [(nodes[carrier].center, nodes[carrier].y + BOX_HEIGHT / 2)]
                else:
                    arrow.spots = [_on_curve(points[-2], points[-1], place) for place in _PLACES]
                    arrow.spots += [_on_curve(points[0], points[1], place) for place in _PLACES]
                    arrow.spots += [(x, y + BOX_HEIGHT / 2) for x, y in points[1:-1:2]]
            continue
        siblings = [other for other in short if drawn.edges[other].source == edge.source]
        siblings.sort(key=lambda other: starts[other])
        first = 0.5 if len(siblings) == 1 else 0.25 + 0.5 * siblings.index(index) / (len(siblings) - 1)
        on_curve = [_on_curve(points[0], points[1], place) for place in dict.fromkeys((first, *_PLACES))]
        # Arrows that run close together leave no free spot on the curve: then beside it, on either side.
        arrow.spots = on_curve + [(x + side * (half + 4), y) for x, y in on_curve for side in (1, -1)]

    for bundle, members in lane_runs.items():
        _lane_spots(arrows, members, lane_start + LANE_GAP * lanes[bundle], lanes[bundle])
    return arrows


def _attachments(drawn: Layout, outer: dict[str, bool]) -> tuple[dict[int, float], dict[int, float]]:
    """Return where each arrow leaves its source and enters its target, as shares of the box side, by edge index.

    Forward arrows leave by the bottom and enter by the top, spread in the order of what lies
    at their other end, so that they do not cross next to the box. The arrows of a bundle
    enter at one point. A backward arrow uses the right side of a box that is the rightmost
    of its layer, else the bottom or the top, right of the forward arrows and so nearer to
    its lane. On a right side, the arrows leaving come above those entering, which keeps
    the two ends of a loop apart.
    """
    nodes = drawn.nodes
    hops = {index: (chain[0], chain[-1]) for index, chain in drawn.waypoints.items()}

    def far_end(index: int, end: str) -> float:
        edge = drawn.edges[index]
        if edge.back:
            return nodes[edge.target if end == "target" else edge.source].y
        first, last = hops.get(index, (edge.target, edge.source))
        return nodes[first if end == "target" else last].center

    leaving: dict[tuple[str, str, bool], list[int]] = {}
    entering: dict[tuple[str, str, bool], dict[int, list[float]]] = {}
    for index, edge in enumerate(drawn.edges):
        side = "right" if edge.back and outer[edge.source] else "bottom"
        leaving.setdefault((edge.source, side, edge.back), []).append(index)
        side = "right" if edge.back and outer[edge.target] else "top"
        entering.setdefault((edge.target, side, edge.back), {}).setdefault(drawn.bundles[index], []).append(far_end(index, "source"))

    sides: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for back in (False, True):
        for (name, side, is_back), indexes in leaving.items():
            if is_back == back:
                indexes.sort(key=lambda index: far_end(index, "target"))
                sides.setdefault((name, side), []).extend(("leave", index) for index in indexes)
    for back in (False, True):
        for (name, side, is_back), bundles in entering.items():
            if is_back == back:
                order = sorted(bundles, key=lambda bundle: sum(bundles[bundle]) / len(bundles[bundle]))
                sides.setdefault((name, side), []).extend(("enter", bundle) for bundle in order)

    starts: dict[int, float] = {}
    entries: dict[int, float] = {}
    for items in sides.values():
        for kind, number in items:
            (starts if kind == "leave" else entries)[number] = _share(items, (kind, number))
    return starts, {index: entries[bundle] for index, bundle in drawn.bundles.items()}


#: Candidate positions of a label along a curve between two layers, as the curve's parameter, best first.
#: Near its ends a label would cover the box it leaves or enters.
_PLACES = (0.5, 0.4, 0.6, 0.3, 0.7, 0.25, 0.75)


def _lanes(drawn: Layout) -> dict[int, int]:
    """Give each backward bundle a lane, numbered from 1 outward. Bundles whose heights do not overlap may share one.

    Shorter bundles take the inner lanes, so that a lane that spans more layers lies outside
    the shorter ones it passes and their runs to it do not cross it.
    """
    spans: dict[int, tuple[float, float]] = {}
    for index, edge in enumerate(drawn.edges):
        if not edge.back:
            continue
        bundle = drawn.bundles[index]
        ys = [drawn.nodes[edge.source].y, drawn.nodes[edge.target].y]
        low, high = spans.get(bundle, (min(ys), max(ys)))
        spans[bundle] = (min(low, *ys), max(high, *ys) + BOX_HEIGHT)
    taken: list[list[tuple[float, float]]] = []
    lanes: dict[int, int] = {}
    for bundle in sorted(spans, key=lambda bundle: (spans[bundle][1] - spans[bundle][0], bundle)):
        low, high = spans[bundle]
        # The gaps between layers hold the runs to a lane, so spans that only touch there still overlap.
        free = next((number for number, used in enumerate(taken) if all(high + LAYER_GAP <= other_low or other_high + LAYER_GAP <= low
                                                                          for other_low, other_high in used)), None)
        if free is None:
            taken.append([])
            free = len(taken) - 1
        taken[free].append((low, high))
        lanes[bundle] = free + 1
    return lanes


def _lane_spots(arrows: list[Arrow], members: list[int], lane: float, number: int) -> None:
    """List the label spots of a backward bundle on the first of its arrows: on its lane, or beside it on a short run."""
    runs = [run for run in (arrows[index].run for index in members) if run is not None]
    low, high = min(low for low, _ in runs), max(high for _, high in runs)
    first = arrows[members[0]]
    places = dict.fromkeys(((0.5, 0.3, 0.7)[(number - 1) % 3], 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6))
    beside = [(lane + first.half + 4, low + (high - low) * place) for place in places]
    if high - low < LABEL_HEIGHT * 2:
        first.spots = beside
    else:
        first.spots = [(lane, low + (high - low) * place) for place in places] + beside


def _place_labels(arrows: list[Arrow], boxes: list[Node]) -> None:
    """Put each label at its first spot that overlaps no state box and no label placed before.

    Where every spot overlaps something, the label goes where it overlaps least. Labels with
    fewer spots go first: a trunk's label has one, the place the layout kept for it.
    """
    occupied = [(node.x, node.y, node.x + node.width, node.y + BOX_HEIGHT) for node in boxes]
    for arrow in sorted((arrow for arrow in arrows if arrow.spots), key=lambda arrow: len(arrow.spots)):
        covered = [sum(_overlap(arrow.label_box(*spot), other) for other in occupied) for spot in arrow.spots]
        arrow.label_x, arrow.label_y = arrow.spots[covered.index(min(covered))]
        occupied.append(arrow.label_box(arrow.label_x, arrow.label_y))


def _overlap(one: tuple[float, float, float, float], other: tuple[float, float, float, float]) -> float:
    """Return the area that two rectangles (left, top, right, bottom) share, each grown by a clearance of one pixel."""
    width = min(one[2], other[2]) - max(one[0], other[0]) + 2
    height = min(one[3], other[3]) - max(one[1], other[1]) + 2
    return width * height if width > 0 and height > 0 else 0.0


def _share(items: Sequence[Hashable], item: Hashable) -> float:
    """Return where along a box side an arrow attaches, as a share of the side: spread evenly among its neighbours."""
    return (items.index(item) + 1) / (len(items) + 1)


def _forward_path(points: list[tuple[float, float]]) -> str:
    """Return a downward path through its points: curves between layers, straight lines through the waypoints."""
    commands = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for position in range(1, len(points)):
        (x1, y1), (x2, y2) = points[position - 1], points[position]
        if position % 2 == 1:
            drop = (y2 - y1) / 2
            commands.append(f"C{x1:.1f},{y1 + drop:.1f} {x2:.1f},{y2 - drop:.1f} {x2:.1f},{y2:.1f}")
        else:
            commands.append(f"L{x2:.1f},{y2:.1f}")
    return " ".join(commands)


def _on_curve(start: tuple[float, float], end: tuple[float, float], t: float) -> tuple[float, float]:
    """Return the point at parameter t of the curve `_forward_path` draws between two layers."""
    (x1, y1), (x2, y2) = start, end
    drop = (y2 - y1) / 2
    weights = ((1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2, t ** 3)
    xs, ys = (x1, x1, x2, x2), (y1, y1 + drop, y2 - drop, y2)
    return sum(w * x for w, x in zip(weights, xs)), sum(w * y for w, y in zip(weights, ys))


def _back_points(
    source: Node, target: Node, shares: tuple[float, float], lane: float, number: int, outer: tuple[bool, bool],
) -> list[tuple[float, float]]:
    """Return the corners of a backward arrow or a loop that runs up the lane at x = `lane`.

    It leaves the source by its right side when nothing lies right of the source in its
    layer, else by its bottom into the gap below. Likewise it enters the target by its
    right side, or from the gap above by its top.
    """
    # Runs in the gaps between layers are set apart per lane, so that two of them do not overlap.
    offset = 8 + 5 * ((number - 1) % 4)
    points: list[tuple[float, float]]
    if outer[0]:
        y = source.y + BOX_HEIGHT * shares[0]
        points = [(source.x + source.width, y), (lane, y)]
    else:
        x = source.x + source.width * shares[0]
        points = [(x, source.y + BOX_HEIGHT), (x, source.y + BOX_HEIGHT + offset), (lane, source.y + BOX_HEIGHT + offset)]
    if outer[1]:
        y = target.y + BOX_HEIGHT * shares[1]
        points += [(lane, y), (target.x + target.width, y)]
    else:
        x = target.x + target.width * shares[1]
        points += [(lane, target.y - offset), (x, target.y - offset), (x, target.y)]
    return points


def _orthogonal_path(points: list[tuple[float, float]], radius: float = 8.0) -> str:
    """Return a path through points joined by horizontal and vertical runs, with rounded corners."""
    commands = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for before, corner, after in zip(points, points[1:], points[2:]):
        into = _toward(corner, before, radius)
        out = _toward(corner, after, radius)
        commands.append(f"L{into[0]:.1f},{into[1]:.1f} Q{corner[0]:.1f},{corner[1]:.1f} {out[0]:.1f},{out[1]:.1f}")
    commands.append(f"L{points[-1][0]:.1f},{points[-1][1]:.1f}")
    return " ".join(commands)


def _toward(corner: tuple[float, float], other: tuple[float, float], radius: float) -> tuple[float, float]:
    """Return the point at `radius` from a corner toward another point, or halfway when they are closer."""
    dx, dy = other[0] - corner[0], other[1] - corner[1]
    length = (dx * dx + dy * dy) ** 0.5
    if length == 0:
        return corner
    step = min(radius, length / 2) / length
    return corner[0] + dx * step, corner[1] + dy * step
