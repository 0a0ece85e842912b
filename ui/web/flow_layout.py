"""The layered layout of a flow's diagram: where each state's box and each long arrow's waypoints go.

The layout is a small Sugiyama-style drawing:

1. a depth-first walk from the initial state marks the transitions that lead back to a
   state on the current path (returns, withdrawals, loops), so the others form a DAG;
2. the longest path over the DAG from the initial state gives each state its layer, top
   to bottom;
3. a forward transition that spans several layers gets a waypoint in each layer between,
   so that it runs between the boxes, and its label takes the middle waypoint's place;
4. a few barycenter sweeps order each layer to shorten the arrows;
5. every layer is centered, its nodes left to right in that order.

ui/web/flow_diagram.py draws the result; backward transitions are routed there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from metamodel import model as m

BOX_HEIGHT = 36
LAYER_GAP = 64
NODE_GAP = 32
MARGIN = 24
#: Width of a waypoint that a long transition passes through in a layer.
WAYPOINT_WIDTH = 12
FONT_SIZE = 13
LABEL_FONT_SIZE = 11

#: Approval modes as the diagram names them, in English and Chinese.
MODE_NAMES: dict[str, tuple[str, str]] = {
    "single": ("single", "单人审批"),
    "any_of": ("any of", "任一人审批"),
    "countersign": ("countersign", "会签"),
    "levels": ("levels", "逐级审批"),
}


@dataclass(frozen=True)
class Edge:
    transition: m.Transition
    source: str
    target: str
    #: Whether the arrow leads back to a state on the path to its source, or loops on one state.
    back: bool


@dataclass
class Node:
    """A state's box, or a point that a long transition passes through in a layer."""

    name: str
    layer: int
    order: float
    width: float
    state: m.State | None = None
    x: float = 0.0
    y: float = 0.0

    @property
    def center(self) -> float:
        return self.x + self.width / 2


@dataclass
class Layout:
    nodes: dict[str, Node]
    edges: list[Edge]
    #: The waypoints of each forward edge that spans several layers, top to bottom, by the edge's index.
    waypoints: dict[int, list[str]] = field(default_factory=dict)


def text_width(text: str, size: int) -> float:
    """Estimate the width of a text in pixels: a CJK character is about one em wide, others about 0.6 em."""
    return sum(size if ord(character) >= 0x2E80 else size * 0.6 for character in text)


def mode_name(mode: str, lang: str) -> str:
    en, zh = MODE_NAMES.get(mode, (mode, mode))
    return en if lang == "en" else zh


def edge_label(transition: m.Transition, lang: str) -> str:
    """Return an arrow's label: the transition's label, with the approval mode in brackets."""
    text = transition.label.get(lang)
    if transition.approval is not None:
        text += f" [{mode_name(transition.approval.mode, lang)}]"
    return text


def edges_of(flow: m.Flow) -> list[Edge]:
    """Return one edge per source of each transition, with the backward ones marked."""
    outgoing: dict[str, list[tuple[m.Transition, str]]] = {name: [] for name in flow.states}
    for transition in flow.transitions.values():
        for source in transition.sources:
            if source in outgoing and transition.target in flow.states:
                outgoing[source].append((transition, transition.target))
    back: set[tuple[str, str, str]] = set()
    visited: set[str] = set()
    starts = [name for name, state in flow.states.items() if state.initial] + list(flow.states)
    for start in starts:
        if start in visited:
            continue
        # A stack of (state, index of its next outgoing transition) walks depth first without recursion.
        on_path = {start}
        visited.add(start)
        stack = [(start, 0)]
        while stack:
            state, index = stack.pop()
            if index >= len(outgoing[state]):
                on_path.discard(state)
                continue
            stack.append((state, index + 1))
            transition, target = outgoing[state][index]
            if target in on_path:
                back.add((transition.name, state, target))
            elif target not in visited:
                visited.add(target)
                on_path.add(target)
                stack.append((target, 0))
    return [
        Edge(transition, source, target, (transition.name, source, target) in back)
        for source, items in outgoing.items() for transition, target in items
    ]


def layout(flow: m.Flow, lang: str) -> Layout:
    """Place every state and waypoint of the flow; see the module docs for the steps."""
    edges = edges_of(flow)
    layers = {name: 0 for name in flow.states}
    # Longest path: the forward edges form a DAG, so relaxing them once per state settles every layer.
    for _ in range(len(flow.states)):
        changed = False
        for edge in edges:
            if not edge.back and layers[edge.target] < layers[edge.source] + 1:
                layers[edge.target] = layers[edge.source] + 1
                changed = True
        if not changed:
            break

    nodes = {
        name: Node(name, layers[name], float(index), max(96.0, text_width(state.label.get(lang), FONT_SIZE) + 28), state)
        for index, (name, state) in enumerate(flow.states.items())
    }
    result = Layout(nodes, edges)
    links: list[tuple[str, str]] = []
    for index, edge in enumerate(edges):
        if edge.back:
            continue
        chain = [edge.source]
        span = layers[edge.target] - layers[edge.source]
        for step in range(1, span):
            name = f"{index}:{step}"
            # The middle waypoint carries the label, so it is as wide as the label.
            width = text_width(edge_label(edge.transition, lang), LABEL_FONT_SIZE) + 8 if step == span // 2 else WAYPOINT_WIDTH
            nodes[name] = Node(name, layers[edge.source] + step, nodes[edge.source].order, width)
            chain.append(name)
        if span > 1:
            result.waypoints[index] = chain[1:]
        chain.append(edge.target)
        links.extend(zip(chain, chain[1:]))
    _order(nodes, links)
    _place(nodes)
    return result


def _order(nodes: dict[str, Node], links: list[tuple[str, str]]) -> None:
    """Order each layer by the mean position of the neighbours in the layer above, then below, a few times over."""
    by_layer: dict[int, list[Node]] = {}
    for node in nodes.values():
        by_layer.setdefault(node.layer, []).append(node)
    upward = [(lower, upper) for upper, lower in links]
    for _ in range(4):
        for layer in sorted(by_layer):
            _sort_layer(by_layer[layer], nodes, upward)
        for layer in sorted(by_layer, reverse=True):
            _sort_layer(by_layer[layer], nodes, links)


def _sort_layer(layer: list[Node], nodes: dict[str, Node], links: list[tuple[str, str]]) -> None:
    positions: dict[str, float] = {}
    for node in layer:
        neighbours = [nodes[other].order for own, other in links if own == node.name]
        positions[node.name] = sum(neighbours) / len(neighbours) if neighbours else node.order
    layer.sort(key=lambda node: (positions[node.name], node.order))
    for index, node in enumerate(layer):
        node.order = float(index)


def _place(nodes: dict[str, Node]) -> None:
    by_layer: dict[int, list[Node]] = {}
    for node in sorted(nodes.values(), key=lambda node: node.order):
        by_layer.setdefault(node.layer, []).append(node)
    widths = {layer: sum(node.width for node in row) + NODE_GAP * (len(row) - 1) for layer, row in by_layer.items()}
    widest = max(widths.values(), default=0.0)
    for layer, row in by_layer.items():
        x = MARGIN + (widest - widths[layer]) / 2
        for node in row:
            node.x = x
            # Room above the first layer for the start mark of the initial state.
            node.y = MARGIN + 20 + layer * (BOX_HEIGHT + LAYER_GAP)
            x += node.width + NODE_GAP
