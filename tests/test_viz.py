"""Pictures built from scenario traces: assert on the figure data a student would see."""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import pytest

from raftedu import Cluster, Network
from raftedu.viz import ROLE_COLORS, SceneView, animate, cluster_figure, log_frame, log_grid, timeline
from raftedu.viz.cluster import ClusterPicture
from raftedu.viz.timeline import ARROW_NAMES
from raftedu.viz.scene import message_xy, ring_xy
from raftedu.viz.style import (MESSAGE_STYLES, REFUSED_NAMES, REFUSED_SYMBOLS, ROLE_LABELS, TERM_COLORSCALE,
                               message_ok, term_color, term_slot)


def elected(seed: int = 7) -> Cluster:
    c = Cluster(5, seed=seed)
    assert c.run_until(lambda c: c.leader() is not None, within=2_000)
    return c


@pytest.fixture(scope="module")
def crashed_run() -> Cluster:
    """Elect, replicate two commands, crash the leader, re-elect, replicate one more."""
    c = elected()
    c.request("x=1")
    c.request("y=2")
    c.run(200)
    c.crash(c.leader())
    assert c.run_until(lambda c: c.leader() is not None, within=3_000)
    c.request("z=3")
    c.run(30)
    return c


def trace_named(fig, name: str):
    return next(t for t in fig.data if t.name == name)


def title_of(fig) -> str:
    """A figure's title: the layout's, or the cluster picture's title trace (its texts are traces, issue 29)."""
    return fig.layout.title.text or next((t.text[0] for t in fig.data if t.name == "title"), "")


def test_servers_are_coloured_by_role_and_crashed_is_grey(crashed_run: Cluster) -> None:
    fig = cluster_figure(crashed_run.trace)
    servers = trace_named(fig, "servers")
    view = crashed_run.view
    assert list(servers.marker.color) == [ROLE_COLORS[view.nodes[i].shown_role] for i in range(1, 6)]
    assert list(servers.marker.color).count(ROLE_COLORS["crashed"]) == 1
    assert list(servers.marker.color).count(ROLE_COLORS["leader"]) == 1
    for role, color in ROLE_COLORS.items():  # the legend explains every colour
        assert trace_named(fig, ROLE_LABELS[role]).marker.color == color
    status = trace_named(fig, "status").text[0]
    assert f"leader S{crashed_run.leader()}" in status


def test_messages_in_flight_sit_between_sender_and_receiver(crashed_run: Cluster) -> None:
    times = sorted({e.time + 3 for e in crashed_run.trace.of_kind("send")})[:40]
    checked = 0
    for t in times:
        view = SceneView.at(crashed_run.trace, t)
        fig = cluster_figure(view)
        for kind, (name, *_rest) in MESSAGE_STYLES.items():
            trace = trace_named(fig, name)
            for x, y, hover in zip(trace.x, trace.y, trace.hovertext):
                if x is None:
                    continue
                src, dst = map(int, re.search(r"S(\d+)→S(\d+)", hover).groups())
                (x0, y0), (x1, y1) = ring_xy(src, 5), ring_xy(dst, 5)
                length = math.hypot(x1 - x0, y1 - y0)
                along = ((x - x0) * (x1 - x0) + (y - y0) * (y1 - y0)) / length**2
                off = abs((x - x0) * (y1 - y0) - (y - y0) * (x1 - x0)) / length
                # Between the servers' edges, never on a server; beside the link (lanes fan out, 0.08 apart).
                assert 0.15 <= along <= 0.85 and off <= 0.061 + 3 * 0.08, (t, hover, along, off)
                assert min(math.dist((x, y), (x0, y0)), math.dist((x, y), (x1, y1))) > 0.3, (t, hover)
                checked += 1
        assert len([f for f in view.in_flight.values()]) == sum(
            sum(1 for x in trace_named(fig, n).x if x is not None) for n, *_ in MESSAGE_STYLES.values())
    assert checked > 20


def test_a_message_moves_from_sender_to_receiver() -> None:
    assert message_xy(1, 3, 5, 0.0, lane=0) != message_xy(1, 3, 5, 1.0, lane=0)
    (x0, y0), (x1, y1) = ring_xy(1, 5), ring_xy(3, 5)
    start, end = message_xy(1, 3, 5, 0.0, lane=0), message_xy(1, 3, 5, 1.0, lane=0)
    assert math.dist(start, (x0, y0)) < math.dist(start, (x1, y1))
    assert math.dist(end, (x1, y1)) < math.dist(end, (x0, y0))


def test_partition_draws_blocked_links_and_drops() -> None:
    c = elected()
    c.partition([1, 2])
    c.cut(3, 4)
    c.run(120)
    fig = cluster_figure(c.trace)
    blocked = trace_named(fig, "blocked link (half: one way)")
    segments = [i for i, x in enumerate(blocked.x) if x is None]
    assert len(segments) == 2 * 3 + 1  # six cross-partition links, one one-way cut (drawn half)
    half = blocked.x[-3:-1], blocked.y[-3:-1]
    mid = ((ring_xy(3, 5)[0] + ring_xy(4, 5)[0]) / 2, (ring_xy(3, 5)[1] + ring_xy(4, 5)[1]) / 2)
    start = (half[0][0], half[1][0])
    # From S3's edge (the line never strikes through a server's name) to the middle of the link.
    picture = ClusterPicture(5)
    assert picture.radius < math.dist(start, ring_xy(3, 5)) < picture.radius + 0.05
    assert math.dist((half[0][1], half[1][1]), mid) < 1e-3
    assert "S3 → S4 blocked (one way)" in blocked.hovertext[-2]
    assert "network: partition {S1,S2} | {S3,S4,S5} · 1 link cut one way · no loss · delay 5–15 ms" == \
        trace_named(fig, "network").text[0]
    drop_times = [e.time for e in c.trace.of_kind("drop")]
    assert drop_times
    at_drop = cluster_figure(c.trace, drop_times[-1])
    drops = trace_named(at_drop, "dropped message")
    assert [x for x in drops.x if x is not None]
    assert all("dropped at" in h for h in drops.hovertext)


def test_animation_has_one_light_frame_per_step_and_scrubs(crashed_run: Cluster) -> None:
    fig = animate(crashed_run.trace, 100, 600, frame_ms=5)
    assert len(fig.frames) == 101
    assert [f.name for f in fig.frames][:3] == ["100", "105", "110"]
    picture = ClusterPicture(5)
    traces = list(fig.frames[0].traces)
    assert all(list(f.traces) == traces for f in fig.frames)
    servers = [t.name for t in fig.data].index("servers")
    assert set(traces) <= set(picture.dynamic_indices) and servers in traces  # the servers change (a crash)
    assert 1 not in traces  # no partition in this window: blocked links never change, so frames leave them out
    steps = fig.layout.sliders[0].steps
    assert len(steps) == 101 and list(steps[-1].args[0]) == ["600"]
    play = fig.layout.updatemenus[0].buttons
    assert [b.label for b in play] == ["▶ play", "▶▶ 4× faster", "▷ ¼ speed", "❚❚ pause"]
    assert all(b.args[1]["frame"]["redraw"] is False for b in play)
    assert fig.layout.meta["note"] == ""
    sizes = [len(f.to_plotly_json().__repr__()) for f in fig.frames]
    assert max(sizes) < 4_000
    # The last frame shows the same servers as the static picture at that time.
    last = fig.frames[-1].data[traces.index(servers)]
    assert list(last.marker.color) == list(trace_named(cluster_figure(crashed_run.trace, 600), "servers").marker.color)


def test_too_long_a_window_is_capped_and_says_so(crashed_run: Cluster) -> None:
    fig = animate(crashed_run.trace, 0, 400, frame_ms=1, max_frames=50)
    assert len(fig.frames) == 50
    note = fig.layout.meta["note"]
    assert "needs 401 frames" in note and "only the first 50" in note and "larger frame_ms" in note
    assert "cut short" in title_of(fig)
    assert any("only the first 50" in a.text for a in fig.layout.annotations)
    with pytest.raises(ValueError, match="frame_ms must be a whole number"):
        animate(crashed_run.trace, frame_ms=0)
    with pytest.raises(ValueError, match="must not be before start"):
        animate(crashed_run.trace, 500, 100)


def test_timeline_has_an_arrow_per_delivery_and_names_rules(crashed_run: Cluster) -> None:
    end = 600
    fig = timeline(crashed_run.trace, 0, end)
    delivered = [e for e in crashed_run.trace.of_kind("deliver") if e.time <= end]
    message_names = {s[0] for s in MESSAGE_STYLES.values()} | set(REFUSED_NAMES.values()) | set(ARROW_NAMES.values())
    arrows = sum(sum(1 for x in t.x if x is None) for t in fig.data if t.name in message_names)
    assert arrows == len(delivered)
    hovers = [h for t in fig.data for h in (t.hovertext or ()) if h]
    assert any(h.startswith("RequestVote S") and "handled by: RequestVote receiver" in h
               and "§5.2/§5.4.1 RequestVote receiver" in h for h in hovers)
    assert any(h.startswith("AppendEntries S") and "handled by: AppendEntries receiver (§5.3)" in h
               and "§5.3 AppendEntries step 4: append new entries" in h for h in hovers)
    names = {t.name for t in fig.data}
    assert {"became candidate", "became leader", "crashed"} <= names
    crash = trace_named(fig, "crashed")
    assert list(crash.y) == [e.node for e in crashed_run.trace.of_kind("crash")]
    assert len(fig.layout.shapes) == 1  # the crashed server's lane is greyed while it is down
    assert list(fig.layout.yaxis.ticktext) == ["S1", "S2", "S3", "S4", "S5"]
    assert fig.layout.xaxis.title.text == "virtual time (ms)"


def test_term_colours_come_from_one_stepped_colorscale() -> None:
    for term in (1, 2, 7, 10, 11, 23):
        slot = term_slot(term)
        assert TERM_COLORSCALE[2 * (slot - 1)][1] == TERM_COLORSCALE[2 * slot - 1][1] == term_color(term)
    assert term_color(1) == term_color(11) != term_color(2)


def test_log_grid_and_frame_agree_with_the_servers(crashed_run: Cluster) -> None:
    frame = log_frame(crashed_run.trace)
    for i in range(1, 6):
        node = crashed_run.nodes[i]
        log = node.log if node is not None else crashed_run.disks[i].log
        row = frame.loc[f"S{i}"]
        assert [row[k] for k in range(1, len(log) + 1)] == [e.term for e in log]
        assert row["alive"] == (node is not None)
    commands = log_frame(crashed_run.trace, commands=True)
    assert commands.loc["S1", 1] == "t1 'x=1'"
    fig = log_grid(crashed_run.trace)
    cells = trace_named(fig, "log cells")
    assert len(cells.x) == sum(len(crashed_run.disks[i].log) for i in range(1, 6))
    for x, y, color, opacity in zip(cells.x, cells.y, cells.marker.color, cells.marker.opacity):
        view = crashed_run.view.nodes[round(y)]
        assert color == term_slot(view.log[x - 1].term)
        assert opacity == (1.0 if x <= view.commit_index else 0.3)


def test_match_and_next_index_are_rebuilt_exactly_from_the_trace() -> None:
    c = Cluster(5, seed=3, network=Network(drop_rate=0.2, delay=(2, 30)))
    checked = 0
    for k in range(60):
        c.run(37)
        if c.leader() is not None and k % 3 == 0:
            c.request(f"c{k}")
        leader = c.leader()
        scene = SceneView.at(c.trace)
        if leader is None:
            continue
        node = c.nodes[leader]
        progress = scene.progress[leader]
        assert {p: v[0] for p, v in progress.items()} == node.match_index
        assert {p: v[1] for p, v in progress.items()} == node.next_index
        checked += 1
    assert checked > 20


def test_viz_reads_only_the_trace_never_the_simulator() -> None:
    for path in Path("raftedu/viz").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module not in ("sim", "widgets", "checks"), f"{path} imports {node.module}"
                assert not (node.module or "").startswith(("raftedu.sim", "ipywidgets")), path
            if isinstance(node, ast.Import):
                assert all(not a.name.startswith(("raftedu.sim", "ipywidgets")) for a in node.names), path


def test_pictures_refuse_a_partial_trace_in_words(crashed_run: Cluster) -> None:
    partial = crashed_run.trace.events[5:]
    for draw in (cluster_figure, animate, timeline, log_grid):
        with pytest.raises(ValueError, match="begins with its 'start' event"):
            draw(partial)
    with pytest.raises(TypeError, match="not a ClusterView snapshot"):
        timeline(crashed_run.view)
    assert len(cluster_figure(crashed_run.view).data) == 30  # a snapshot is enough for the instant picture


def test_the_network_line_names_partitions_cuts_loss_and_delay_in_one_sentence() -> None:
    c = Cluster(5, seed=7)
    line = lambda: trace_named(cluster_figure(c.trace), "network").text[0]  # noqa: E731
    assert line() == "network: all links up · no loss · delay 5–15 ms"
    for a, b in ((1, 4), (1, 5), (2, 4), (2, 5)):  # the explorer's "bridge" preset: four links cut both ways
        c.cut(a, b)
        c.cut(b, a)
    assert line() == "network: 4 links cut · no loss · delay 5–15 ms"
    c.cut(3, 1)
    c.set_network(drop_rate=0.4, delay=(20, 40))
    assert line() == "network: 4 links cut · 1 link cut one way · drop 40 % of messages · delay 20–40 ms"
    c.heal()
    c.partition([1, 2])
    assert line() == "network: partition {S1,S2} | {S3,S4,S5} · drop 40 % of messages · delay 20–40 ms"
    assert "all links up" not in line()


def test_a_lossy_network_shows_on_the_picture() -> None:
    c = Cluster(5, seed=7)
    clean = cluster_figure(c.trace)
    badge = trace_named(clean, "loss badge")
    assert trace_named(clean, "links").line.dash == "solid" and badge.text == badge.x == ()  # no point, no empty text
    c.set_network(drop_rate=0.4)
    c.run(600)
    lossy = cluster_figure(c.trace)
    assert trace_named(lossy, "links").line.dash == "dot"
    assert trace_named(lossy, "loss badge").text == ("<b>⚠ drop 40 %</b>",)
    drops = [e.time for e in c.trace.of_kind("drop")]
    assert drops and [x for x in trace_named(cluster_figure(c.trace, drops[-1]), "dropped message").x if x is not None]


def test_no_text_point_of_the_cluster_picture_is_empty(crashed_run: Cluster) -> None:
    """A text point says something or is not there: plotly.js draws no text that arrives at a point whose text was
    empty (the dark theme's lost loss badge, issue 29), so every text of every changing trace is non-empty."""
    picture = ClusterPicture(5)
    view = SceneView()
    events = crashed_run.trace.events
    for k, e in enumerate(events):
        view.apply(e)
        if k % max(1, len(events) // 40) == 0 or k == len(events) - 1:
            for trace in picture.dynamic(view, e.time):
                if "text" in trace.get("mode", ""):
                    texts = trace.get("text", [])
                    assert len(texts) == len(trace["x"]) and all(str(t).strip() for t in texts), (trace["name"], e.time)


def test_labels_sit_outside_the_ring_where_no_link_or_message_goes() -> None:
    for n in (3, 4, 5, 7, 9):
        c = Cluster(n, seed=1)
        c.run(400)
        fig = cluster_figure(c.trace)
        picture = ClusterPicture(n)
        labels = trace_named(fig, "labels")
        for i, (x, y, where) in enumerate(zip(labels.x, labels.y, labels.textposition), start=1):
            cx, cy = ring_xy(i, n)
            assert math.hypot(x, y) > 1 + picture.radius - 1e-9 or math.dist((x, y), (cx, cy)) > picture.radius
            # the text grows away from the ring: right of a right-hand server, above the top one, ...
            outward = {"middle right": (1, 0), "middle left": (-1, 0), "top center": (0, 1), "bottom center": (0, -1)}[where]
            assert outward[0] * cx + outward[1] * cy > 0, (n, i, where)
        assert all(size >= 11 for size in (labels.textfont.size, trace_named(fig, "status").textfont.size))
        assert "term" in labels.text[0] and any(r in labels.text[0] for r in ("follower", "candidate", "leader"))


def test_messages_a_server_sends_at_once_are_drawn_apart_for_every_cluster_size() -> None:
    """A leader's heartbeats to every follower leave at once: each is drawn clear of the others (issue 29: with 6
    servers they piled up on the leader), ≥ the largest message marker apart, whatever the cluster size."""
    from raftedu.viz.cluster import _UNIT_PX

    largest = max(size for *_rest, size in MESSAGE_STYLES.values()) / _UNIT_PX
    for n in range(3, 10):
        picture = ClusterPicture(n)
        for src in (1, n):
            at = [message_xy(src, dst, n, 0.0, edge=picture.message_edge) for dst in range(1, n + 1) if dst != src]
            gap = min(math.dist(a, b) for k, a in enumerate(at) for b in at[k + 1 :])
            assert gap >= largest, (n, src, gap)
            assert all(math.dist(p, ring_xy(src, n)) > picture.radius + 0.05 for p in at)  # clear of the server


def test_match_index_zero_is_drawn_as_nothing_matched_under_its_own_row() -> None:
    from raftedu.viz.logs import CELL_DY, MATCH_DY

    c = elected()
    c.crash(next(i for i in c.ids if i != c.leader()))
    c.request("x=1")
    c.run(100)
    fig = log_grid(c.trace)
    assert fig.layout.xaxis.ticktext[0] == "none" and fig.layout.xaxis.tickvals[0] == 0
    match = trace_named(fig, "leader's matchIndex for this follower")
    zero = [(x, y, h) for x, y, h in zip(match.x, match.y, match.hovertext) if h.endswith(": 0 (nothing matched yet)")]
    assert zero and all(x == 0 for x, _y, _h in zero)  # the crashed follower never matched anything
    assert all(x >= 1 for x, _y, h in zip(match.x, match.y, match.hovertext) if "(nothing" not in h)
    cells = trace_named(fig, "log cells")
    for _x, y, h in zip(match.x, match.y, match.hovertext):
        row = int(h.split(" for S")[1].split(":")[0])
        assert math.isclose(y, row + MATCH_DY) and row < y < row + 0.5  # in its follower's row, under the cells
    assert all(math.isclose(y - round(y), CELL_DY) for y in cells.y)


def test_pictures_follow_the_light_or_dark_theme() -> None:
    c = elected()
    for draw in (lambda t: cluster_figure(c.trace, theme=t), lambda t: timeline(c.trace, theme=t),
                 lambda t: log_grid(c.trace, theme=t), lambda t: animate(c.trace, 0, 50, theme=t)):
        dark, light = draw("dark"), draw("light")
        assert dark.layout.template.layout.paper_bgcolor == "rgb(17,17,17)"
        assert light.layout.template.layout.paper_bgcolor == "white"
    with pytest.raises(ValueError, match="unknown theme 'blue'; choose one of: light, dark"):
        cluster_figure(c.trace, theme="blue")


def test_never_colour_alone_refused_replies_leader_and_crashed_differ_in_shape() -> None:
    from raftedu.viz.style import REFUSED_SYMBOLS, ROLE_SYMBOLS

    c = elected()
    others = [i for i in c.ids if i != c.leader()]
    c.timeout_now(others[0])
    c.timeout_now(others[1])  # two candidates in one term: each refuses the other
    c.crash(others[2])
    refused_seen = granted_seen = False
    for _ in range(40):  # every millisecond while the votes fly
        c.run(1)
        fig = cluster_figure(c.trace)
        votes = trace_named(fig, MESSAGE_STYLES["RequestVoteReply"][0])
        for x, symbol, hover in zip(votes.x, votes.marker.symbol, votes.hovertext or [None] * len(votes.x)):
            if x is None:
                continue
            if "vote refused" in hover:
                refused_seen = True
                assert symbol == REFUSED_SYMBOLS["RequestVoteReply"] == "circle-x-open"
            else:
                granted_seen = True
                assert symbol == "circle"
    assert refused_seen and granted_seen
    servers = trace_named(fig, "servers")
    roles = [c.view.nodes[i].shown_role for i in c.ids]
    assert list(servers.marker.symbol) == [ROLE_SYMBOLS[r][0] for r in roles]
    assert list(servers.marker.line.width) == [ROLE_SYMBOLS[r][1] for r in roles]
    assert servers.marker.symbol[others[2] - 1] == "octagon"  # crashed: a stop sign, no cross through its name
    assert not any("-x" in symbol for symbol in servers.marker.symbol)
    if c.leader() is not None:
        assert servers.marker.line.width[c.leader() - 1] == 5  # the leader's ring is bold


def test_every_picture_has_a_title_and_text_of_at_least_11_px(crashed_run: Cluster) -> None:
    figures = {"cluster": cluster_figure(crashed_run.trace), "animation": animate(crashed_run.trace, 0, 100),
               "timeline": timeline(crashed_run.trace, 0, 300), "logs": log_grid(crashed_run.trace)}
    for name, fig in figures.items():
        assert len(title_of(fig)) > 10, name
        sizes = [t.textfont.size for t in fig.data if getattr(t, "textfont", None) is not None and t.textfont.size]
        sizes += [a.font.size for a in fig.layout.annotations if a.font.size]
        sizes += [fig.layout.legend.font.size] if fig.layout.legend.font.size else []
        assert all(size >= 11 for size in sizes), (name, sizes)


def test_timeline_refusals_differ_in_shape_and_dash_not_only_colour() -> None:
    c = elected()  # a follower cut off while entries commit rejoins: refused votes, then rejected AppendEntries
    lagging = next(i for i in c.ids if i != c.leader())
    c.isolate(lagging)
    for k in range(3):
        c.request(f"x={k}")
        c.run(100)
    c.run(600)
    c.heal()
    assert c.run_until(lambda c: c.leader() is not None and c.nodes[lagging].commit_index == 3, within=3_000)
    fig = timeline(c.trace)
    delivered = [e.msg for e in c.trace.of_kind("deliver")]
    for kind, name in REFUSED_NAMES.items():
        refused = [m for m in delivered if type(m).__name__ == kind and not message_ok(m)]
        granted = [m for m in delivered if type(m).__name__ == kind and message_ok(m)]
        assert refused and granted, f"the run must deliver both kinds of {kind} for this test to mean anything"
        bad, good = trace_named(fig, name), trace_named(fig, ARROW_NAMES[kind])  # no ● or ▲ promised: an arrow
        assert sum(x is None for x in bad.x) == len(refused) and sum(x is None for x in good.x) == len(granted)
        assert bad.line.dash == "dash" and good.line.dash in (None, "solid")
        assert bad.marker.symbol == REFUSED_SYMBOLS[kind] and good.marker.symbol == "arrow"
        heads = [h for h in bad.hovertext if h]
        assert heads and all(("refused" in h) or ("rejected" in h) for h in heads)


def test_pictures_take_the_cluster_itself_and_say_what_they_take() -> None:
    c = Cluster(3, seed=1)
    c.run(1_000)
    assert cluster_figure(c).to_dict() == cluster_figure(c.trace).to_dict()
    with pytest.raises(TypeError, match=r"a cluster, its trace \(cluster.trace\) or a list of its events; got int"):
        cluster_figure(5)  # type: ignore[arg-type]


def test_a_configuration_entry_is_marked_in_the_log_and_explained() -> None:
    c = Cluster(3, seed=4)
    c.run_until(lambda c: c.leader() is not None, 3_000)
    c.request("a")
    c.run(200)
    new = c.add_server()
    c.run(300)
    cells = next(t for t in log_grid(c).data if t.name == "log cells")
    config_cells = [(text, hover) for text, hover in zip(cells.text, cells.hovertext) if text.endswith("⚙")]
    assert config_cells and all(f"learners S{new}" in hover and "§4.1" in hover for _, hover in config_cells)
    assert len(config_cells) == 4  # the one entry, in every server's log (the new one's too)
    assert "⚙ = a configuration entry" in log_grid(c).layout.title.text
    assert "⚙ = configuration entry" in trace_named(cluster_figure(c), "log heading").text[0]
    plain = Cluster(3, seed=4)
    plain.run(1_000)
    assert "⚙" not in log_grid(plain).layout.title.text and "⚙" not in trace_named(cluster_figure(plain), "log heading").text[0]


def test_etcds_messages_each_have_their_own_marker_and_hover_names_them() -> None:
    """TimeoutNow, PreVote and InstallSnapshot are not drawn as RequestVote or AppendEntries (issue 29 item 10)."""
    from raftedu.raft import InstallSnapshot, PreVote, TimeoutNow

    shapes = [symbol for _name, symbol, _color, _size in MESSAGE_STYLES.values()]
    assert len(set(shapes)) == len(shapes), shapes  # the shape alone tells every kind apart

    def drawn_when_sent(c: Cluster, kind: type, since: int) -> str:
        """Step until a ``kind`` message (sent after trace event ``since``) is in flight; the symbol it is drawn with
        (its hover names it)."""
        for _ in range(5000):
            if any(e.kind == "send" and isinstance(e.msg, kind) for e in c.trace.events[since:]):
                trace = trace_named(cluster_figure(c.view), MESSAGE_STYLES[kind.__name__][0])
                assert any(kind.__name__ in h for h in trace.hovertext if h), trace.hovertext
                return trace.marker.symbol
            since = len(c.trace)
            c.step()
        raise AssertionError(f"no {kind.__name__} was sent")

    c = Cluster(5, seed=7, pre_vote=True)
    c.run(1000)
    leader = c.leader()
    mark = len(c.trace)
    c.transfer_leadership(next(i for i in c.ids if i != leader))
    assert drawn_when_sent(c, TimeoutNow, mark) == "star"
    c.run(1000)
    mark = len(c.trace)
    c.crash(c.leader())
    assert drawn_when_sent(c, PreVote, mark) == "diamond-open"
    c = Cluster(3, seed=4, snapshot_every=3)  # a follower down while the leader compacts its log (test_snapshots)
    c.run(1000)
    lagging = next(i for i in c.ids if i != c.leader())
    c.crash(lagging)
    for k in range(8):
        c.request(f"x={k}")
        c.run(30)
    mark = len(c.trace)
    c.restart(lagging)
    assert drawn_when_sent(c, InstallSnapshot, mark) == "pentagon"


def test_the_status_line_names_every_server_that_believes_it_leads() -> None:
    """An old leader cut off keeps leading its old term: the status line names both, as the ring draws both."""
    from raftedu.viz import status_line

    c = Cluster(5, seed=7)
    c.run(1000)
    old = c.leader()
    c.isolate(old)
    c.run(1000)
    new = c.leader()
    leaders = sorted(c.view.leaders(), key=lambda i: c.view.nodes[i].term)
    assert leaders == [old, new] and old != new
    line = status_line(c.view)
    assert f"leaders S{old} (term {c.view.nodes[old].term}) and S{new} (term {c.view.nodes[new].term})" in line, line
    servers = trace_named(cluster_figure(c.view), "servers")
    assert [servers.marker.line.width[i - 1] for i in leaders] == [5, 5]  # both drawn with the leader's bold ring


def legend_promises_not_drawn(fig) -> list[str]:
    """Names of legend entries whose symbol the figure (or any of its frames) never draws: a trace in the legend
    needs a point, a role key a server of that colour, the faint-cell key an uncommitted cell."""
    if fig.layout.showlegend is False:
        return []
    base = [t.to_plotly_json() for t in fig.data]
    states = [base]
    for frame in fig.frames:  # a frame restyles some traces: merge its data over the base traces
        state = list(base)
        for i, d in zip(frame.traces or (), frame.data):
            state[i] = {**base[i], **d.to_plotly_json()}
        states.append(state)
    colors = {c for state in states for t in state if t.get("name") == "servers" for c in t["marker"]["color"]}
    faint = any(isinstance(t["marker"].get("opacity"), (list, tuple)) and min(t["marker"]["opacity"], default=1) < 1
                for state in states for t in state if t.get("name") == "log cells")
    missing = []
    for i, trace in enumerate(fig.data):
        if trace.showlegend is False or not trace.name:
            continue
        if trace.name in ROLE_LABELS.values():
            ok = trace.marker.color in colors
        elif trace.name.startswith("faint log cell"):
            ok = faint
        else:
            def drawn(t: dict) -> bool:
                sizes = t.get("marker", {}).get("size")
                points = [k for k, x in enumerate(t.get("x") or ()) if x is not None]
                if isinstance(sizes, (list, tuple)) and "lines" not in (t.get("mode") or ""):
                    points = [k for k in points if sizes[k]]
                return bool(points)
            ok = any(drawn(state[i]) for state in states)
        if not ok:
            missing.append(trace.name)
    return missing


def test_every_legend_entry_of_a_figure_is_drawn_in_it(crashed_run: Cluster) -> None:
    """The legend names only what the figure shows (issue 29: ● granted and ▲ success were promised, never drawn)."""
    c = crashed_run
    figures = {"cluster_figure": cluster_figure(c.trace), "cluster_figure at 200 ms": cluster_figure(c.trace, 200),
               "timeline": timeline(c.trace), "timeline without heartbeats": timeline(c.trace, heartbeats=False),
               "animate": animate(c.trace, 0, 400, frame_ms=10), "log_grid": log_grid(c.trace)}
    for name, fig in figures.items():
        assert legend_promises_not_drawn(fig) == [], name
    # and the check can fail: a legend entry for a message kind with nothing in flight
    fig = cluster_figure(c.trace)
    empty = next(t for t in fig.data if t.name == MESSAGE_STYLES["TimeoutNow"][0])
    empty.showlegend = True
    assert legend_promises_not_drawn(fig) == [MESSAGE_STYLES["TimeoutNow"][0]]


def test_a_short_animation_plays_slowly_enough_to_follow(crashed_run: Cluster) -> None:
    """Lesson 02's election (about 45 frames) played in 1.2 s; now ▶ takes about PLAY_SECONDS whatever the window."""
    from raftedu.viz.cluster import PLAY_SECONDS

    for start, end, frame_ms in ((150, 240, 2), (0, 1000, 5)):
        fig = animate(crashed_run.trace, start, end, frame_ms=frame_ms)
        per_frame = fig.layout.updatemenus[0].buttons[0].args[1]["frame"]["duration"]
        assert 0.75 * PLAY_SECONDS <= per_frame * len(fig.frames) / 1000 <= 1.25 * PLAY_SECONDS, (start, end, per_frame)
    fig = animate(crashed_run.trace, 150, 240, frame_ms=2, frame_duration=30)  # a chosen duration is kept
    assert fig.layout.updatemenus[0].buttons[0].args[1]["frame"]["duration"] == 30


def test_an_animation_lists_in_its_legend_what_a_later_frame_draws(crashed_run: Cluster) -> None:
    """At the first frame nothing is in flight; the legend still names the messages later frames draw."""
    fig = animate(crashed_run.trace, 0, 400, frame_ms=10)
    shown = {t.name for t in fig.data if t.showlegend is not False}
    assert MESSAGE_STYLES["RequestVote"][0] in shown and MESSAGE_STYLES["Heartbeat"][0] in shown
    assert legend_promises_not_drawn(fig) == []
    first = cluster_figure(crashed_run.trace, 0)
    assert MESSAGE_STYLES["RequestVote"][0] not in {t.name for t in first.data if t.showlegend is not False}


def test_a_refused_client_request_shows_on_the_status_line_then_fades() -> None:
    """A request with no leader changes no server, so the status line says it was refused (issue 29 item 11), for
    REFUSAL_LINGER_MS of virtual time; a request a leader takes adds no such words."""
    from raftedu.viz import status_line
    from raftedu.viz.scene import REFUSAL_LINGER_MS, scene_at

    c = Cluster(3, seed=1)
    assert c.leader() is None
    c.request("x=1")
    assert status_line(scene_at(c.trace)).endswith("⚠ client request 'x=1' refused: no leader")
    assert "refused" in status_line(scene_at(c.trace, REFUSAL_LINGER_MS))
    c.run(1000)
    assert "refused" not in status_line(scene_at(c.trace)) and c.leader() is not None
    c.request("y=2")
    assert "refused" not in status_line(scene_at(c.trace))
    assert "refused" not in status_line(c.view)  # a bare ClusterView keeps no refusals


def test_timeline_requests_start_with_their_kinds_shape_so_same_colour_kinds_differ() -> None:
    """PreVote and RequestVote share the election colour: each arrow starts with its kind's shape (◇ / ◆, as the
    cluster picture draws them) and the legend shows that shape (issue 29 item 11); replies stay plain arrows."""
    from raftedu.viz.timeline import ARROW_NAMES

    c = Cluster(5, seed=3, pre_vote=True)
    c.run(400)
    fig = timeline(c.trace)
    for kind in ("PreVote", "RequestVote", "Heartbeat"):
        t = trace_named(fig, ARROW_NAMES.get(kind, MESSAGE_STYLES[kind][0]))
        arrows = sum(x is None for x in t.x)
        assert arrows > 0, kind
        assert list(t.marker.symbol) == [MESSAGE_STYLES[kind][1], "arrow", "arrow"] * arrows, kind
        assert all(size > 0 for size in t.marker.size[0::3]), kind  # the shape is drawn where the message leaves
    assert trace_named(fig, ARROW_NAMES["RequestVoteReply"]).marker.symbol == "arrow"


def test_timeline_says_which_message_a_delay_next_item_held_up() -> None:
    c = Cluster(3, seed=4, network=Network(delay=(2, 9)),
                schedule=[(0, "timeout_now", 1), (50, "delay_next", 3, 1, 120)])
    c.run(200)
    late = next(e for e in c.trace.events if e.kind == "send" and e.rule)
    hovers = [h for trace in timeline(c.trace).data for h in (trace.hovertext or ()) if h]
    said = [h for h in hovers if "delay_next" in h]
    assert said and all(f"sent {late.time} ms (a delay_next item: 120 ms late), delivered {late.value} ms" in h
                        for h in said)
