"""A flow drawn as an SVG diagram on the server: states as boxes in layers, transitions as labelled arrows.

ui/web/flow_layout.py places the boxes. Here the arrows are routed: forward transitions run
down through their waypoints, and backward transitions and loops run up in lanes on the
right of the boxes, their labels on the lane. The initial state has a start mark and a
thick border, and a final state has a double border. Automatic transitions are dashed.
Approval transitions are drawn in their own colour, with the approval mode in the label.

Every label is escaped. The drawing uses SVG presentation attributes only, because the
pages' content security policy rejects inline styles.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from metamodel import model as m
from ui.web.flow_layout import (
    BOX_HEIGHT,
    FONT_SIZE,
    LABEL_FONT_SIZE,
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


@dataclass(frozen=True)
class Arrow:
    edge: Edge
    path: str
    #: The center of the label.
    label_x: float
    label_y: float
    #: Half the label's width.
    half: float

    @property
    def extent(self) -> tuple[float, float]:
        return self.label_x - self.half, self.label_x + self.half


def render_svg(flow: m.Flow, lang: str) -> Markup:
    """Return the flow's diagram as an inline SVG element, labels in `lang`.

    The arrows come first, then the boxes, then the labels, so that no line crosses a label.
    """
    drawn = layout(flow, lang)
    boxes = [node for node in drawn.nodes.values() if node.state is not None]
    arrows = _arrows(drawn, lang)
    lanes = [node.x + node.width for node in drawn.nodes.values()]
    left = min([MARGIN, *(arrow.extent[0] for arrow in arrows)]) - 4
    right = max(lanes + [arrow.extent[1] for arrow in arrows]) + MARGIN
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
    parts.extend(_label(arrow, lang) for arrow in arrows)
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
    """Route every arrow and place its label.

    Arrows leaving or entering one side of a box are spread along it, in the order of what
    lies at their other end, so that they do not cross next to the box. The labels of the
    arrows that leave one box for the next layer sit at different heights, so that they do
    not overlap.
    """
    nodes = drawn.nodes
    hops = {index: (chain[0], chain[-1]) for index, chain in drawn.waypoints.items()}
    leaving: dict[tuple[str, bool], list[int]] = {}
    entering: dict[tuple[str, bool], list[int]] = {}
    for index, edge in enumerate(drawn.edges):
        leaving.setdefault((edge.source, edge.back), []).append(index)
        entering.setdefault((edge.target, edge.back), []).append(index)

    def far_end(index: int, end: str) -> float:
        edge = drawn.edges[index]
        if edge.back:
            return nodes[edge.target if end == "target" else edge.source].y
        first, last = hops.get(index, (edge.target, edge.source))
        return nodes[first if end == "target" else last].center

    for items in leaving.values():
        items.sort(key=lambda index: far_end(index, "target"))
    for items in entering.values():
        items.sort(key=lambda index: far_end(index, "source"))

    right_of_layer: dict[int, float] = {}
    for node in nodes.values():
        right_of_layer[node.layer] = max(right_of_layer.get(node.layer, 0.0), node.x + node.width)
    lane_start = max(right_of_layer.values())
    arrows = []
    lane = 0
    for index, edge in enumerate(drawn.edges):
        source, target = nodes[edge.source], nodes[edge.target]
        start = _share(leaving[(edge.source, edge.back)], index)
        end = _share(entering[(edge.target, edge.back)], index)
        half = (text_width(edge_label(edge.transition, lang), LABEL_FONT_SIZE) + 8) / 2
        if edge.back:
            lane += 1
            outer = (source.x + source.width >= right_of_layer[source.layer], target.x + target.width >= right_of_layer[target.layer])
            arrows.append(_back_arrow(edge, source, target, (start, end), lane_start + LANE_GAP * lane, lane, outer, half))
            continue
        waypoints = drawn.waypoints.get(index, [])
        points = [(source.x + source.width * start, source.y + BOX_HEIGHT)]
        for name in waypoints:
            point = nodes[name]
            points += [(point.center, point.y), (point.center, point.y + BOX_HEIGHT)]
        points.append((target.x + target.width * end, target.y))
        path = _forward_path(points)
        if waypoints:
            # The label takes the place of the middle waypoint, which `layout` made as wide as the label.
            middle = nodes[waypoints[(len(waypoints) + 1) // 2 - 1]]
            arrows.append(Arrow(edge, path, middle.center, middle.y + BOX_HEIGHT / 2, half))
            continue
        siblings = [other for other in leaving[(edge.source, False)] if other not in drawn.waypoints]
        place = 0.5 if len(siblings) == 1 else 0.15 + 0.7 * siblings.index(index) / (len(siblings) - 1)
        label_x, label_y = _on_curve(points[0], points[1], place)
        arrows.append(Arrow(edge, path, label_x, label_y, half))
    return arrows


def _share(items: list[int], index: int) -> float:
    """Return where along a box side an edge attaches, as a share of the side: spread evenly among its neighbours."""
    return (items.index(index) + 1) / (len(items) + 1)


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


def _back_arrow(
    edge: Edge, source: Node, target: Node, shares: tuple[float, float], lane: float, number: int, outer: tuple[bool, bool],
    half: float,
) -> Arrow:
    """Route a backward arrow or a loop up the lane at x = `lane`.

    It leaves the source by its right side when nothing lies right of the source in its
    layer, else by its bottom into the gap below. Likewise it enters the target by its
    right side, or from the gap above by its top.
    """
    # Runs in the gaps between layers are set apart per lane, so that two of them do not overlap.
    offset = 8 + 5 * ((number - 1) % 4)
    points: list[tuple[float, float]]
    if outer[0]:
        y = source.y + BOX_HEIGHT * (0.3 if edge.source == edge.target else shares[0])
        points = [(source.x + source.width, y), (lane, y)]
    else:
        x = source.x + source.width * shares[0]
        points = [(x, source.y + BOX_HEIGHT), (x, source.y + BOX_HEIGHT + offset), (lane, source.y + BOX_HEIGHT + offset)]
    if outer[1]:
        y = target.y + BOX_HEIGHT * (0.7 if edge.source == edge.target else shares[1])
        points += [(lane, y), (target.x + target.width, y)]
    else:
        x = target.x + target.width * shares[1]
        points += [(lane, target.y - offset), (x, target.y - offset), (x, target.y)]

    along = [y for x, y in points if x == lane]
    low, high = min(along), max(along)
    if high - low < LABEL_HEIGHT * 2:
        # Too short a run for a label on the lane: put it beside the lane.
        return Arrow(edge, _orthogonal_path(points), lane + half + 4, (low + high) / 2, half)
    place = (0.5, 0.3, 0.7)[(number - 1) % 3]
    return Arrow(edge, _orthogonal_path(points), lane, low + (high - low) * place, half)


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
