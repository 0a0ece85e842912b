"""The layered layout of a flow's diagram: where each state's box and each long arrow's waypoints go.

The layout is a small Sugiyama-style drawing:

1. a depth-first walk from the initial state marks the transitions that lead back to a
   state on the current path (returns, withdrawals, loops), so the others form a DAG;
2. the longest path over the DAG from the initial state gives each state its layer, top
   to bottom. A layer wider than MAX_LAYER_WIDTH wraps: boxes move down one layer, those
   with the most room above their successors first;
3. the arrows of one transition into one target form a bundle (a transition with several
   sources has one arrow per source). Where a bundle spans several layers, it gets one
   waypoint in each layer between, shared by all its arrows, so that they run between the
   boxes as one trunk with one label. Where its layer has room, the trunk's last waypoint
   is made as wide as the label, which takes its place;
4. a few barycenter sweeps order each layer to shorten the arrows;
5. a few sweeps move each node toward the mean position of its neighbours, as far as the
   order of its layer allows, so that chains of states and trunks run straight down.

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
#: Gap beside such a waypoint.
WAYPOINT_GAP = 12
#: Widest layer before it wraps, in pixels, so that a diagram fits a window 1280 pixels wide: there the flow
#: page gives it 1006 pixels (measured in Chromium), less the margins. A single box wider than this stays.
#: NOTE: this bounds what each layer holds, not the drawing: `_place` may shift wrapped rows apart, and
#: ten parallel states still give a drawing about 1200 pixels wide.
MAX_LAYER_WIDTH = 960
#: How much more a state's wish for its position counts than a waypoint's, when both cannot have theirs.
STATE_WEIGHT = 20.0
#: Sweeps of `_place`, each moving every node once. The number is odd, so the last sweep runs downward.
PLACE_SWEEPS = 9
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
    #: The bundle of each edge, by the edge's index: edges of one transition into one target share a bundle number.
    bundles: dict[int, int] = field(default_factory=dict)
    #: The waypoint that carries the label of each forward bundle that has waypoints, by bundle number.
    label_points: dict[int, str] = field(default_factory=dict)


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
    nodes = {
        name: Node(name, 0, float(index), max(96.0, text_width(state.label.get(lang), FONT_SIZE) + 28), state)
        for index, (name, state) in enumerate(flow.states.items())
    }
    layers = {name: 0 for name in flow.states}
    _push_down(layers, edges)
    _wrap(layers, edges, {name: node.width for name, node in nodes.items()})
    for name, node in nodes.items():
        node.layer = layers[name]

    result = Layout(nodes, edges)
    members: dict[int, list[int]] = {}
    keys: dict[tuple[str, str], int] = {}
    for index, edge in enumerate(edges):
        bundle = keys.setdefault((edge.transition.name, edge.target), len(keys))
        result.bundles[index] = bundle
        if not edge.back:
            members.setdefault(bundle, []).append(index)
    links: dict[tuple[str, str], None] = {}
    for indexes in members.values():
        for link in _trunk(result, indexes):
            links[link] = None
    _reserve_labels(result, lang)
    _order(nodes, list(links))
    _place(nodes, list(links))
    return result


def _push_down(layers: dict[str, int], edges: list[Edge]) -> None:
    """Move the target of every forward edge at least one layer below its source.

    Starting from all states in layer 0, this gives each state the length of the longest
    path that leads to it. The forward edges form a DAG, so relaxing them once per state
    settles every layer.
    """
    for _ in range(len(layers)):
        changed = False
        for edge in edges:
            if not edge.back and layers[edge.target] < layers[edge.source] + 1:
                layers[edge.target] = layers[edge.source] + 1
                changed = True
        if not changed:
            return


def _wrap(layers: dict[str, int], edges: list[Edge], widths: dict[str, float]) -> None:
    """Move boxes down, one layer at a time, until every layer of more than one box fits in MAX_LAYER_WIDTH.

    A layer's width counts its boxes and the thin trunks of the transitions that pass through
    it. The box moved first is the one with the most room: a state that leads nowhere, else
    the one whose nearest successor lies furthest below. Its successors move down with it
    where they must. Every layer above keeps at least one box, so this ends.
    """
    successors: dict[str, list[str]] = {name: [] for name in layers}
    for edge in edges:
        if not edge.back:
            successors[edge.source].append(edge.target)
    position = {name: index for index, name in enumerate(layers)}

    def room(name: str) -> tuple[int, bool, int]:
        below = [layers[target] for target in successors[name]]
        # Among boxes with as much room, every other one moves, so that the two rows interleave
        # and the arrows to the lower row pass between the boxes of the upper one.
        follower = following.get(name)
        return (min(below) - layers[name] if below else len(layers) + 1, follower not in moved, position[name])

    def width(layer: int, row: list[str]) -> float:
        tops: dict[tuple[str, str], int] = {}
        for edge in edges:
            if not edge.back:
                key = (edge.transition.name, edge.target)
                tops[key] = min(tops.get(key, layers[edge.source]), layers[edge.source])
        passing = sum(1 for (_, target), top in tops.items() if top < layer < layers[target])
        return sum(widths[name] for name in row) + NODE_GAP * (len(row) - 1) + (WAYPOINT_WIDTH + WAYPOINT_GAP) * passing

    layer = 0
    while layer <= max(layers.values()):
        row = [name for name in layers if layers[name] == layer]
        following = dict(zip(row, row[1:]))
        moved: set[str] = set()
        while len(row) > 1 and width(layer, row) > MAX_LAYER_WIDTH:
            name = max(row, key=room)
            layers[name] += 1
            row.remove(name)
            moved.add(name)
            _push_down(layers, edges)
        layer += 1


def _trunk(result: Layout, indexes: list[int]) -> list[tuple[str, str]]:
    """Give a forward bundle its shared waypoints, one per layer it crosses, and return the links of its edges."""
    nodes = result.nodes
    edges = [result.edges[index] for index in indexes]
    target = edges[0].target
    bottom = nodes[target].layer
    top = min(nodes[edge.source].layer for edge in edges)
    bundle = result.bundles[indexes[0]]
    trunk: dict[int, str] = {}
    for layer in range(top + 1, bottom):
        name = f"~{bundle}:{layer}"
        nodes[name] = Node(name, layer, nodes[target].order, WAYPOINT_WIDTH)
        trunk[layer] = name
    links: list[tuple[str, str]] = []
    for index, edge in zip(indexes, edges):
        chain = [trunk[layer] for layer in range(nodes[edge.source].layer + 1, bottom)]
        if chain:
            result.waypoints[index] = chain
        path = [edge.source, *chain, target]
        links.extend(zip(path, path[1:]))
    return links


def _reserve_labels(result: Layout, lang: str) -> None:
    """Make the last waypoint of each trunk as wide as the trunk's label, where its layer stays within MAX_LAYER_WIDTH.

    Every arrow that uses the trunk passes that waypoint, just above the target. Longer trunks
    go first, because a label on a short one finds room beside its curves
    (ui/web/flow_diagram.py). The estimate counts NODE_GAP beside every node, the largest gap.
    """
    nodes = result.nodes
    used: dict[int, float] = {}
    for node in nodes.values():
        used[node.layer] = used.get(node.layer, -NODE_GAP) + node.width + NODE_GAP
    lasts: dict[int, list[str]] = {}
    for index, chain in result.waypoints.items():
        bundle = result.bundles[index]
        if len(chain) > len(lasts.get(bundle, [])):
            lasts[bundle] = chain
    for bundle, chain in sorted(lasts.items(), key=lambda item: (-len(item[1]), item[0])):
        last = nodes[chain[-1]]
        transition = next(result.edges[index].transition for index, number in result.bundles.items() if number == bundle)
        width = text_width(edge_label(transition, lang), LABEL_FONT_SIZE) + 8
        if used[last.layer] + width - last.width <= MAX_LAYER_WIDTH:
            used[last.layer] += width - last.width
            last.width = width
            result.label_points[bundle] = last.name


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


def _place(nodes: dict[str, Node], links: list[tuple[str, str]]) -> None:
    """Set every node's x and y: rows in their order, each node pulled toward the centers of its neighbours.

    Sweeps alternate, downward toward the neighbours above and upward toward those below.
    The last one runs downward, so that a state with one predecessor sits right under it
    where its row has room, and chains of states run straight down.
    """
    rows: dict[int, list[Node]] = {}
    for node in sorted(nodes.values(), key=lambda node: node.order):
        rows.setdefault(node.layer, []).append(node)
    above: dict[str, list[str]] = {name: [] for name in nodes}
    below: dict[str, list[str]] = {name: [] for name in nodes}
    for upper, lower in links:
        above[lower].append(upper)
        below[upper].append(lower)
    for row in rows.values():
        _pack(row, [0.0] * len(row))

    for sweep in range(PLACE_SWEEPS):
        downward = sweep % 2 == 0
        _sweep(rows, nodes, above if downward else below, reverse=not downward)

    left = min(node.x for node in nodes.values())
    for node in nodes.values():
        node.x += MARGIN - left
        # Room above the first layer for the start mark of the initial state.
        node.y = MARGIN + 20 + node.layer * (BOX_HEIGHT + LAYER_GAP)


def _sweep(rows: dict[int, list[Node]], nodes: dict[str, Node], neighbours: dict[str, list[str]], *, reverse: bool) -> float:
    """Move each row, in turn, toward the mean center of each node's neighbours, and return the largest move in pixels."""
    moved = 0.0
    for layer in sorted(rows, reverse=reverse):
        row = rows[layer]
        before = [node.x for node in row]
        preferred = []
        for node in row:
            centers = [nodes[name].center for name in neighbours[node.name]]
            preferred.append(sum(centers) / len(centers) - node.width / 2 if centers else node.x)
        _pack(row, preferred)
        moved = max([moved, *(abs(node.x - x) for node, x in zip(row, before))])
    return moved


def _thin(node: Node) -> bool:
    return node.state is None and node.width == WAYPOINT_WIDTH


def _pack(row: list[Node], preferred: list[float]) -> None:
    """Set the x of a row's nodes as close to `preferred` as their order and gaps allow, in the weighted least-squares sense.

    Subtracting from each node the room taken by those before it turns the constraints
    into a non-decreasing sequence, which the pool-adjacent-violators algorithm fits. A
    state weighs STATE_WEIGHT waypoints, so that arrows make way for boxes.
    """
    offsets = []
    width_before = 0.0
    for index, node in enumerate(row):
        if index:
            # A thin waypoint is a trunk passing by: it needs less room beside it than a box or a label.
            thin = _thin(node) or _thin(row[index - 1])
            width_before += WAYPOINT_GAP if thin else NODE_GAP
        offsets.append(width_before)
        width_before += node.width
    # Each block is (weighted sum, total weight, number of nodes) of a run of nodes that share one shifted position.
    blocks: list[tuple[float, float, int]] = []
    for node, target, offset in zip(row, preferred, offsets):
        weight = STATE_WEIGHT if node.state is not None else 1.0
        total, weights, count = (target - offset) * weight, weight, 1
        while blocks and blocks[-1][0] / blocks[-1][1] > total / weights:
            previous = blocks.pop()
            total, weights, count = total + previous[0], weights + previous[1], count + previous[2]
        blocks.append((total, weights, count))
    position = 0
    for total, weights, count in blocks:
        for _ in range(count):
            row[position].x = total / weights + offsets[position]
            position += 1
