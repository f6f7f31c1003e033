"""Drive the ClusterExplorer by .click() and .value, as a student's browser would, and check cluster and figure."""

from __future__ import annotations

import pytest

from raftedu import Cluster
from raftedu.viz import ROLE_COLORS
from raftedu.widgets import (
    PANELS,
    Action,
    ClusterExplorer,
    LiveText,
    StepCountingCluster,
    describe_events,
    parse_groups,
    preset_actions,
)


@pytest.fixture(scope="module")
def explorer() -> ClusterExplorer:
    return ClusterExplorer(n=5, seed=7)


def servers(x: ClusterExplorer) -> list[str]:
    return list(next(t for t in x.figure.data if t.name == "servers").marker.color)


def status(x: ClusterExplorer) -> str:
    return next(t for t in x.figure.data if t.name == "status").text[0]


def network(x: ClusterExplorer) -> str:
    return next(t for t in x.figure.data if t.name == "network").text[0]


def test_crash_the_leader_and_watch_a_new_one_elected() -> None:
    x = ClusterExplorer(n=5, seed=7)
    assert x.figure is not None and status(x).startswith("t = 0 ms · no leader")
    x.buttons["Run 1 s"].click()
    leader = x.cluster.leader()
    assert leader is not None and servers(x)[leader - 1] == ROLE_COLORS["leader"]
    assert f"leader S{leader}" in status(x)
    assert x.buttons[f"Time out S{leader}"].disabled and x.buttons[f"Restart S{leader}"].disabled

    x.buttons[f"Crash S{leader}"].click()
    assert x.cluster.nodes[leader] is None
    assert servers(x)[leader - 1] == ROLE_COLORS["crashed"]
    assert x.buttons[f"Crash S{leader}"].disabled and not x.buttons[f"Restart S{leader}"].disabled
    assert x.recent(1) == [f"S{leader} crashed"]

    x.buttons["Run 1 s"].click()
    new = x.cluster.leader()
    assert new not in (None, leader)
    assert servers(x)[new - 1] == ROLE_COLORS["leader"] and f"leader S{new}" in status(x)
    assert any("granted its vote" in s for s in x.recent(20)) or "won the election" in x.event_log.value

    x.buttons[f"Restart S{leader}"].click()
    assert x.cluster.nodes[leader] is not None and servers(x)[leader - 1] == ROLE_COLORS["follower"]


def test_refused_actions_show_a_message_not_a_traceback(explorer: ClusterExplorer) -> None:
    explorer.advance(1_000)
    leader = explorer.cluster.leader()
    assert explorer.timeout_now(leader) is False
    assert "runs no election timer" in explorer.message.value and "⚠" in explorer.message.value
    explorer.groups.value = "1,2 | x"
    explorer.buttons["Partition"].click()
    assert "could not read 'x'" in explorer.message.value
    explorer.groups.value = "1,2 | 9"
    explorer.buttons["Partition"].click()
    assert "unknown node id 9" in explorer.message.value
    explorer.groups.value = "1,2 | 2,3"
    explorer.buttons["Partition"].click()
    assert "overlap" in explorer.message.value
    assert explorer.cluster.groups == ()
    explorer.buttons["Step"].click()  # a good action clears the warning
    assert "⚠" not in explorer.message.value


def test_client_request_commits_or_is_rejected_in_words() -> None:
    x = ClusterExplorer(n=3, seed=1)
    x.command.value = "x=1"
    x.buttons["Client request"].click()
    assert x.cluster.requests[-1].status == "rejected" and "no leader" in x.event_log.value
    assert "client request 'x=1' refused: no leader" in status(x)  # the figure shows it too, not only the log
    x.advance(800)
    x.command.value = "y=2"
    x.buttons["Client request"].click()
    x.advance(100)
    assert x.cluster.requests[-1].status == "committed"
    assert "is committed at index 1" in x.event_log.value
    cells = next(t for t in x.figure.data if t.name == "log cells")
    assert len(cells.x) == 3 and list(cells.marker.opacity) == [1.0, 1.0, 1.0]


def test_network_sliders_change_the_simulated_network_and_the_picture_shows_it() -> None:
    x = ClusterExplorer(n=3, seed=2)
    links = lambda: next(t for t in x.figure.data if t.name == "links")  # noqa: E731
    badge = lambda: next(t for t in x.figure.data if t.name == "loss badge").text  # noqa: E731
    assert links().line.dash == "solid" and badge() == ()  # no badge point at all (an empty text one is never drawn)
    x.drop_rate.value = 0.4
    assert links().line.dash == "dot" and badge() == ("<b>⚠ drop 40 %</b>",)
    assert "drop 40 % of messages" in network(x) and "drop 40 % of messages" in x.message.value
    x.delay.value = (20, 40)
    assert x.cluster.net.drop_rate == 0.4 and x.cluster.net.delay == (20, 40)
    assert network(x) == "network: all links up · drop 40 % of messages · delay 20–40 ms"
    assert "delay 20–40 ms" in x.message.value
    assert [e.text for e in x.cluster.trace.of_kind("set_network")] == [
        "network changed: drop_rate=0.4", "network changed: delay=(20, 40)"]
    x.advance(1_000)
    assert x.cluster.trace.of_kind("drop") and "lost" in describe_events(x.cluster.trace.of_kind("drop")[:1])
    x.drop_rate.value = 0.0
    assert links().line.dash == "solid" and badge() == ()


def test_every_click_explains_itself_in_the_announced_region() -> None:
    x = ClusterExplorer(n=5, seed=7)
    assert isinstance(x.message, LiveText)
    clicks = [("Run 1 s", "t = 0 → 1000 ms"), ("Crash S1", "S1 crashed"), ("Restart S1", "S1 restarted"),
              ("Time out S2", "S2"), ("Client request", "client sent"), ("Heal", "network healed"),
              ("Step", "<b>Step</b> → t = "), ("Step back", "<b>Step back</b> → ")]
    for label, expected in clicks:
        x.buttons[label].click()
        assert x.message.value.startswith(f"<b>{label}") and expected in x.message.value, (label, x.message.value)
    x.buttons["Crash S1"].click()
    x.buttons["Time out S1"].disabled = False  # a stale button (e.g. a second view): the refusal is explained
    x.buttons["Time out S1"].click()
    assert "⚠ Time out S1 refused: " in x.message.value


def test_every_button_has_a_tooltip_and_one_panel_shows_at_a_time() -> None:
    x = ClusterExplorer(n=3, seed=1)
    for label, button in x.buttons.items():
        assert button.tooltip and button.tooltip.startswith(label), label
    assert x.play_button.tooltip and x.speed.tooltip and all(x.panel.tooltips)
    shown = lambda: [name for name, w in x.panels.items() if w.layout.display != "none"]  # noqa: E731
    assert shown() == ["Servers"]
    for name in PANELS:
        x.panel.value = name
        assert shown() == [name]


def test_the_figure_follows_the_page_theme_or_the_theme_argument() -> None:
    x = ClusterExplorer(n=3, seed=1)
    x._repr_mimebundle_()
    assert x.figure.layout.template.layout.paper_bgcolor == "white"
    x.message.page_theme = "dark"  # what the front end reports from JupyterLab's <body data-jp-theme-light="false">
    assert x.figure.layout.template.layout.paper_bgcolor == "rgb(17,17,17)"
    x.advance(500)
    fresh = x.picture.figure(x.scene, legend=False)
    def data(fig):
        return [{k: v for k, v in t.to_plotly_json().items() if k != "uid"} for t in fig.data]

    assert data(x.figure) == data(fresh)
    x.message.page_theme = "light"
    assert x.figure.layout.template.layout.paper_bgcolor == "white"
    fixed = ClusterExplorer(n=3, seed=1, theme="dark")
    fixed.message.page_theme = "light"  # a chosen theme stays
    assert fixed.figure.layout.template.layout.paper_bgcolor == "rgb(17,17,17)"
    with pytest.raises(ValueError, match="unknown theme 'night'"):
        ClusterExplorer(n=3, theme="night")


def test_play_runs_at_the_chosen_fraction_of_real_time_and_pause_is_only_a_pause() -> None:
    x = ClusterExplorer(n=3, seed=2)
    assert x.speed.value == 0.1 and x.speed.label == "0.1× real time"  # an election takes 2-3 s to watch
    x.play_button.value = True  # what clicking Play does
    assert x.play.playing and x.play_button.description == "Pause" and "0.1× real time" in x.message.value
    for _ in range(10):
        x.play.value += 1  # what the browser's Play widget does every tick_ms (150 ms)
    assert x.cluster.now == 150  # 10 ticks × 150 ms × 0.1
    assert status(x).startswith("t = 150 ms")
    x.play_button.value = False  # Pause
    assert not x.play.playing and x.play_button.description == "Play" and "stopped at t = 150 ms" in x.message.value
    x.play.value += 1  # a tick already on its way when Pause was pressed moves nothing
    assert x.cluster.now == 150
    x.play_button.value = True
    x.play.value = 0  # nor does the widget resetting itself
    assert x.cluster.now == 150
    x.speed.value = 0.01
    for _ in range(4):
        x.play.value += 1  # 1.5 ms a tick: the half milliseconds add up
    assert x.cluster.now == 156


def test_step_goes_to_the_next_visible_event_and_says_what_it_was() -> None:
    x = ClusterExplorer(n=5, seed=7)
    for _ in range(40):
        before = x.cluster.now
        events = x.step()
        assert events, "a step that changes nothing"
        assert "nothing" not in x.message.value and f"t = {x.cluster.now} ms" in x.message.value
        assert x.cluster.now >= before
    said = x.message.value
    assert said.startswith("<b>Step</b> → ")
    first = ClusterExplorer(n=5, seed=7)
    first.step()  # S3's election timer is the first thing that happens with seed 7
    assert "S3&#x27;s election timer ran out" in first.message.value or "S3's election timer ran out" in first.message.value
    assert "S3 sent RequestVote to S1, S2, S4, S5" in first.message.value


def test_step_back_undoes_exactly_one_step_or_action() -> None:
    x = ClusterExplorer(n=5, seed=7)
    x.advance(160)
    states = []
    for k in range(12):
        states.append((x.cluster.trace.digest(), len(x.actions)))
        if k == 5:
            x.crash(3)
        else:
            x.step()
    for k in reversed(range(12)):
        assert x.step_back()
        assert (x.cluster.trace.digest(), len(x.actions)) == states[k], k
        assert x.message.value.startswith("<b>Step back</b>")
    assert "undid crash(3)" not in x.message.value
    x.crash(1)
    x.step_back()
    assert "undid crash(1)" in x.message.value and x.cluster.nodes[1] is not None


def test_step_back_replays_from_a_checkpoint_and_stepping_forward_again_retraces_the_run() -> None:
    """Step back starts its replay at the newest checkpoint before its target, not at the seed (issue 29): the state
    it reaches equals a replay from the seed, and stepping forward again gives the very same run (the checkpoint
    holds every timer, message in flight and random generator)."""
    from raftedu.widgets import CHECKPOINT_STEPS

    x = ClusterExplorer(n=5, seed=7)
    x.advance(1000)
    x.client_request()
    x.advance(300)
    x.buttons["Add server"].click()
    x.advance(600)
    steps, ahead = x.cluster.steps, list(x.cluster.trace.cells)
    assert steps > x.actions[-1].steps + CHECKPOINT_STEPS  # a checkpoint after the Add server
    for _ in range(3):
        assert x.step_back() and "replayed from the checkpoint at t = " in x.message.value

    def from_seed() -> StepCountingCluster:
        seed = StepCountingCluster(**x._config)
        seed.replay(x.actions, x.cluster.steps)
        return seed

    seed = from_seed()
    assert (seed.trace.digest(), seed.now, seed.visible) == (x.cluster.trace.digest(), x.cluster.now, x.cluster.visible)
    while x.cluster.steps < steps:  # forward again: the same events, bit for bit
        x.cluster.step()
    assert x.cluster.trace.cells == ahead
    x.buttons["Add server"].click()  # a seventh; then back over two steps and over the Add server itself
    x.step()
    x.step()
    steps, ahead = x.cluster.steps, list(x.cluster.trace.cells)
    for _ in range(3):
        x.step_back()
    assert "undid add_server()" in x.message.value and "checkpoint" in x.message.value and x.cluster.n == 6
    seed = from_seed()
    assert (seed.trace.digest(), seed.now, seed.visible) == (x.cluster.trace.digest(), x.cluster.now, x.cluster.visible)
    x.buttons["Add server"].click()  # the same action at the same moment: the same run again
    while x.cluster.steps < steps:
        x.cluster.step()
    assert x.cluster.trace.cells == ahead


def test_partition_presets_make_the_textbook_shapes() -> None:
    assert preset_actions("isolate a node", 5, 4, None) == [("isolate", (4,))]
    assert preset_actions("split in halves", 4, 1, None) == [("partition", ([1, 2], [3, 4]))]
    assert preset_actions("leader in the minority", 5, 1, 4) == [("partition", ([1, 4],))]
    bridge = {args for name, args in preset_actions("bridge", 5, 1, None)}
    assert bridge == {(a, b) for a in (1, 2) for b in (4, 5)} | {(b, a) for a in (1, 2) for b in (4, 5)}
    ring = {args for name, args in preset_actions("majorities ring", 5, 1, None)}
    assert ring == {(1, 3), (3, 1), (1, 4), (4, 1), (2, 4), (4, 2), (2, 5), (5, 2), (3, 5), (5, 3)}
    with pytest.raises(ValueError, match="needs at least 3 servers"):
        preset_actions("bridge", 2, 1, None)
    assert parse_groups("S1 S2 | 3,4", 5) == [[1, 2], [3, 4]]

    x = ClusterExplorer(n=5, seed=7)
    x.preset.value = "majorities ring"
    x.buttons["Apply preset"].click()
    assert x.cluster.cuts == ring
    x.preset.value = "bridge"
    x.buttons["Apply preset"].click()  # heals first, then cuts
    assert x.cluster.cuts == bridge and x.cluster.trace.of_kind("heal")
    blocked = next(t for t in x.figure.data if t.name.startswith("blocked link"))
    assert sum(1 for v in blocked.x if v is None) == 4  # four links, each cut both ways, drawn whole
    assert network(x) == "network: 4 links cut · no loss · delay 5–15 ms"
    assert "Apply preset &#x27;bridge&#x27;" in x.message.value or "Apply preset 'bridge'" in x.message.value
    assert "4 links cut" in x.message.value
    x.buttons["Heal"].click()
    assert not x.cluster.cuts


def test_step_back_reproduces_the_trace_exactly() -> None:
    x = ClusterExplorer(n=5, seed=7)
    digests = []
    for k in range(40):
        digests.append((x.cluster.steps, len(x.actions), x.cluster.trace.digest()))
        if k == 10:
            x.advance(300)
        elif k == 20:
            x.crash(x.cluster.leader())
        elif k == 25:
            x.drop_rate.value = 0.3
        else:
            x.step()
    x.command.value = "z"
    x.client_request()
    # Walk all the way back, one event or action at a time: every earlier state comes back bit for bit.
    seen = {x.cluster.trace.digest()}
    while x.step_back():
        seen.add(x.cluster.trace.digest())
    assert {d for *_rest, d in digests} <= seen
    assert x.cluster.steps == 0 and x.actions == []
    assert "already at the start" in x.message.value


def test_replay_matches_a_fresh_cluster_driven_by_hand() -> None:
    by_hand = Cluster(5, seed=11)
    by_hand.run(400)
    leader = by_hand.leader()
    by_hand.crash(leader)
    by_hand.run(300)
    x = ClusterExplorer(n=5, seed=11)
    x.advance(400)
    x.crash(leader)
    x.advance(300)
    assert x.cluster.trace.digest() == by_hand.trace.digest()
    replayed = StepCountingCluster(5, seed=11)
    replayed.replay(x.actions, x.cluster.steps)
    assert replayed.trace.digest() == x.cluster.trace.digest()
    assert x.actions == [Action(x.actions[0].steps, 400, "crash", (leader,))]


def test_static_fallback_draws_a_picture_and_says_why() -> None:
    x = ClusterExplorer(n=3, seed=1, live=False)
    assert x.figure is None
    assert "Static picture" in x.children[0].value
    x.buttons["Run 1 s"].click()
    outputs = x._static.outputs
    assert len(outputs) == 1 and "application/vnd.plotly.v1+json" in outputs[0]["data"]


def test_bad_sizes_are_refused_at_once() -> None:
    from raftedu.widgets import MAX_SERVERS

    with pytest.raises(ValueError, match="cluster size must be a whole number"):
        ClusterExplorer(n=0)
    with pytest.raises(ValueError, match=f"the explorer draws at most {MAX_SERVERS} servers; got n={MAX_SERVERS + 1}"):
        ClusterExplorer(n=MAX_SERVERS + 1)
    x = ClusterExplorer(n=MAX_SERVERS, seed=1)
    x.buttons["Add server"].click()
    assert f"Add server refused: the explorer draws at most {MAX_SERVERS} servers" in x.message.value
    assert x.cluster.n == MAX_SERVERS
    # one layout for every size the explorer draws: adding a server changes only traces (issue 29)
    assert ClusterExplorer(n=3, seed=1).figure.layout.to_plotly_json() == x.figure.layout.to_plotly_json()


def test_the_explorer_explains_every_colour_in_its_legend() -> None:
    from raftedu.viz.style import MESSAGE_STYLES, ROLE_LABELS
    from raftedu.widgets import legend_html

    x = ClusterExplorer(n=3, seed=1)
    legend = legend_html()
    assert x.panels["Key"].value == legend
    for role, color in ROLE_COLORS.items():
        assert f"color:{color}" in legend and ROLE_LABELS[role] in legend
    for name, _symbol, color, _size in MESSAGE_STYLES.values():
        assert name in legend and f"color:{color}" in legend
    assert x.figure.layout.showlegend is False  # plotly's own legend is left out: a faster redraw
    # matchIndex has a mark of its own, drawn and keyed: not the ▲ of an AppendEntries reply (issue 29)
    from raftedu.viz.logs import MATCH_SYMBOL
    from raftedu.viz.style import REFUSED_SYMBOLS
    from raftedu.widgets import _SHAPES

    assert MATCH_SYMBOL not in {s for _n, s, _c, _z in MESSAGE_STYLES.values()} | set(REFUSED_SYMBOLS.values())
    x.advance(1000)
    assert next(t for t in x.figure.data if t.name.startswith("leader's matchIndex")).marker.symbol == MATCH_SYMBOL
    entry = next(part for part in legend.split("<span>") if "matchIndex" in part)
    assert _SHAPES[MATCH_SYMBOL] in entry and "▲" not in entry


def test_play_speed_settings_are_checked() -> None:
    x = ClusterExplorer(n=3, seed=1, tick_ms=200)
    assert x.play.interval == 200
    with pytest.raises(ValueError, match="tick_ms must be a whole number"):
        ClusterExplorer(n=3, tick_ms=5)


def test_the_browser_notebook_runs_top_to_bottom_in_a_kernel() -> None:
    """The notebook the browser tier opens also runs headless (nbclient), so it is checked even without chromium."""
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    path = Path(__file__).parent / "browser" / "explorer.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert "widgets" not in nb.metadata  # committed without widget state
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False).execute()
    shown = nb.cells[1].outputs[-1]["data"]
    assert "application/vnd.jupyter.widget-view+json" in shown
    animation = next(o["data"]["application/vnd.plotly.v1+json"] for o in nb.cells[2].outputs
                     if "application/vnd.plotly.v1+json" in o.get("data", {}))
    style = [o for o in nb.cells[2].outputs  # the page-theme CSS after it (older plotly adds its own HTML outputs)
             if 'data-jp-theme-light="false"' in o.get("data", {}).get("text/html", "")]
    assert len(style) == 1
    assert len(animation["frames"]) == 201


def test_the_live_figure_equals_a_fresh_picture_after_many_actions() -> None:
    """refresh() sends only the traces that changed; the result must still be exactly the full picture."""
    x = ClusterExplorer(n=5, seed=7)
    x._repr_mimebundle_()  # shown: a fresh FigureWidget, as in a notebook
    x.advance(700)
    x.crash(x.cluster.leader())
    for _ in range(15):
        x.step()
    x.groups.value = "1,2 | 3,4,5"
    x.apply_groups()
    x.advance(300)
    x.client_request()
    x.advance(120)
    x.step_back()
    fresh = x.picture.figure(x.scene, legend=False)

    def data(fig):
        return [{k: v for k, v in t.to_plotly_json().items() if k != "uid"} for t in fig.data]

    assert data(x.figure) == data(fresh)
    assert "partition {S1,S2} | {S3,S4,S5}" in network(x)
    # Add server (and stepping back over it) redraws the figure already on the page, not a new FigureWidget
    # (a new one took the browser 1.0–1.2 s, issue 29 item 7), and keeps its layout: one layout for 5..MAX_SERVERS
    # servers, so only traces change. It still equals the full picture of six servers.
    x.buttons["Heal"].click()
    x.advance(1000)
    x.client_request()
    x.advance(300)
    widget, layout = x.figure, x.figure.layout.to_plotly_json()
    for click in ("Add server", "Step back", "Add server"):
        x.buttons[click].click()
        assert x.figure is widget, click
    assert x.picture.n == 6 and len(next(t for t in x.figure.data if t.name == "servers").x) == 6
    assert data(x.figure) == data(x.picture.figure(x.scene, legend=False))
    assert x.figure.layout.to_plotly_json() == layout == x.picture.figure(x.scene, legend=False).layout.to_plotly_json()


def test_a_click_that_changes_only_traces_replots_only_them_in_drawing_order() -> None:
    """Every click changes only traces (Add server too: the layout is made for up to MAX_SERVERS servers): one
    no-redraw animate naming, per subplot, every dynamic trace from the first changed one on (a contiguous run keeps
    links under servers under messages) and at least one trace with a point (issue 29 item 7)."""
    x = ClusterExplorer(n=5, seed=7)
    x.advance(1000)
    x.client_request()
    x.advance(300)
    sent: list[tuple[str, dict, set[int]]] = []  # (kind, message, the traces that had a point when it was sent)

    def drawn() -> set[int]:
        return {i for i, t in enumerate(x.figure.data) if any(v is not None for v in t.x or ())}

    for kind in ("animate", "update"):
        original = getattr(x.figure, f"_send_{kind}_msg")
        setattr(x.figure, f"_send_{kind}_msg",
                lambda *a, _o=original, _k=kind, **kw: (sent.append((_k, kw, drawn())), _o(*a, **kw)))
    x.buttons["Add server"].click()
    assert [kind for kind, _m, _d in sent] == ["animate"] and x.picture.n == 6
    sent.clear()
    ring = [i for i in x.picture.dynamic_indices if x.figure.data[i].xaxis in (None, "x")]
    log = [i for i in x.picture.dynamic_indices if i not in ring]
    for _ in range(5):
        x.step()
    x.crash(x.cluster.leader())  # the leader's marks go: the log panel keeps its cells
    assert [kind for kind, _m, _d in sent] == ["animate"] * 6
    for _kind, message, points in sent:
        assert message["animation_opts"]["frame"]["redraw"] is False
        named = message["trace_indexes"]
        for subplot in (ring, log):  # each subplot named by a run to its end with a drawn point (or plotly.js
            run = [i for i in named if i in subplot]  # empties the subplot)
            assert run and run == subplot[subplot.index(run[0]):] and points & set(run), (subplot, named)
    cells = next(i for i in log if x.figure.data[i].name == "log cells")  # the crash: no marks left; the run
    assert not points & {log[-2], log[-1]} and cells in sent[-1][1]["trace_indexes"]  # reaches back to the cells


def test_step_back_undoes_a_network_change_and_the_sliders_follow() -> None:
    x = ClusterExplorer(n=3, seed=2)
    x.advance(100)
    x.drop_rate.value = 0.3
    assert x.cluster.net.drop_rate == 0.3
    x.step_back()  # the last thing done was the slider change: undo it
    assert x.cluster.net.drop_rate == 0.0 and x.drop_rate.value == 0.0
    assert not x.cluster.trace.of_kind("set_network") and x.actions == []
    assert x.cluster.now == 100


def test_a_preset_is_one_redraw_and_stops_at_a_refusal() -> None:
    x = ClusterExplorer(n=5, seed=7)
    before = len(x.actions)
    x.preset.value = "majorities ring"
    assert x.apply_preset()
    assert len(x.actions) == before + 10 and all(a.name == "cut" for a in x.actions[before:])
    assert x.act_all([("heal", (), {}), ("crash", (9,), {}), ("crash", (1,), {})]) is False
    assert "unknown node id 9" in x.message.value
    assert x.cluster.nodes[1] is not None and not x.cluster.cuts  # healed, then stopped before crashing S1


def labels(x: ClusterExplorer) -> list[str]:
    return list(next(t for t in x.figure.data if t.name == "labels").text)


def test_etcd_panel_adds_a_learner_promotes_and_removes_it_and_the_picture_says_learner() -> None:
    from raftedu.viz.style import LEARNER_SYMBOL

    x = ClusterExplorer(n=3, seed=1)
    x.buttons["Add server"].click()
    assert "refused" in x.message.value and "leader" in x.message.value  # no leader yet: said in words
    x.buttons["Run 1 s"].click()
    x.buttons["Add server"].click()  # a new leader must first commit an entry of its term
    assert "refused" in x.message.value and "send a client request first" in x.message.value
    x.buttons["Client request"].click()
    x.buttons["Run 1 s"].click()
    x.buttons["Add server"].click()
    assert x.cluster.ids == (1, 2, 3, 4) and x.picture.n == 4 and "Crash S4" in x.buttons
    x.buttons["Step back"].click()  # undo the addition (replayed from the seed): three servers drawn again
    assert x.cluster.ids == (1, 2, 3) and x.picture.n == 3 and len(x.panels["Servers"].children) == 3
    x.buttons["Add server"].click()
    assert x.cluster.ids == (1, 2, 3, 4) and x.picture.n == 4 and len(x.panels["Servers"].children) == 4
    assert "S4" in [label for label, _ in x.member.options]
    x.buttons["Run 1 s"].click()
    servers_trace = next(t for t in x.figure.data if t.name == "servers")
    assert len(servers_trace.x) == 4 and servers_trace.marker.symbol[3] == LEARNER_SYMBOL
    assert "learner · term" in labels(x)[3] and all("learner" not in text for text in labels(x)[:3])
    x.member.value = 4
    x.buttons["Promote"].click()
    x.buttons["Run 1 s"].click()
    assert 4 in x.cluster.nodes[x.cluster.leader()].voters and "learner · term" not in labels(x)[3]
    x.buttons["Remove"].click()
    x.buttons["Run 1 s"].click()
    assert 4 in x.cluster.retired and "removed" in labels(x)[3]
    assert x.buttons["Restart S4"].disabled and x.buttons["Crash S4"].disabled
    # the title counts the members the picture shows, from the same scene (issue 29: it said "4 servers")
    assert next(t for t in x.figure.data if t.name == "title").text == ("Raft cluster: 3 servers (S4 removed), seed 1",)


def test_transfer_leadership_from_the_etcd_panel() -> None:
    x = ClusterExplorer(n=5, seed=7)
    x.buttons["Run 1 s"].click()
    leader = x.cluster.leader()
    x.member.value = target = next(i for i in x.cluster.ids if i != leader)
    x.buttons["Transfer leadership"].click()
    assert f"Transfer leadership to S{target}" in x.message.value
    x.buttons["Run 1 s"].click()
    assert x.cluster.leader() == target and f"leader S{target}" in status(x)


def test_pre_vote_checkbox_replays_the_same_faults_and_the_rejoining_server_disrupts_nobody() -> None:
    x = ClusterExplorer(n=5, seed=7)
    x.buttons["Run 1 s"].click()
    leader = x.cluster.leader()
    term = x.cluster.nodes[leader].current_term
    lonely = next(i for i in x.cluster.ids if i != leader)
    x.preset.value, x.preset_node.value = "isolate a node", lonely
    x.buttons["Apply preset"].click()
    for _ in range(2):
        x.buttons["Run 1 s"].click()
    x.buttons["Heal"].click()
    x.buttons["Run 1 s"].click()
    assert x.cluster.nodes[lonely].current_term > term + 1  # without pre-vote it campaigned alone, term after term
    assert x.cluster.nodes[leader].current_term > term  # ... and on rejoining deposed the leader's term
    actions = [(a.name, a.args, a.now) for a in x.actions]
    x.pre_vote.value = True
    assert x.cluster.options == {"pre_vote": True} and "pre-vote" in x.message.value
    assert [(a.name, a.args, a.now) for a in x.actions] == actions and x.cluster.now == 4000
    assert x.cluster.leader() == leader
    assert {x.cluster.nodes[i].current_term for i in x.cluster.ids} == {x.cluster.nodes[leader].current_term}
    x.pre_vote.value = False
    assert x.cluster.options == {} and x.cluster.trace.digest() != ""


def test_the_log_panel_scrolls_in_steps_of_five_and_always_shows_the_newest_entry() -> None:
    from raftedu.widgets import LOG_STEP

    x = ClusterExplorer(n=3, seed=1)
    x.buttons["Run 1 s"].click()
    updates = []  # a whole-figure Plotly.update: none, the index labels are a trace (issue 29)
    x.figure._send_update_msg = lambda *a, **kw: updates.append(kw)
    firsts = []
    for k in range(30):
        x.command.value = f"x={k}"
        x.buttons["Client request"].click()
        x.advance(30)
        longest = max(len(x.cluster.nodes[i].log) for i in x.cluster.ids)
        first = x.picture.log_first
        assert first <= longest <= first + x.picture.log_width - 1  # the newest entry is in view
        firsts.append(first)
    assert longest >= 30 and LOG_STEP == 5
    assert sorted(set(firsts)) == list(range(1, max(firsts) + 1, LOG_STEP))  # 1, 6, 11, ...: a redraw every 5 entries
    assert len(set(firsts)) <= 1 + 30 // LOG_STEP
    assert updates == []
    index = next(t for t in x.figure.data if t.name == "log index")
    assert list(index.text) == [f"≤{first - 1}"] + [str(k) for k in range(first, first + x.picture.log_width)]


def test_snapshot_button_compacts_the_chosen_servers_log_or_says_why_not() -> None:
    x = ClusterExplorer(n=3, seed=1)
    x.buttons["Run 1 s"].click()
    x.member.value = 1
    x.buttons["Snapshot"].click()
    assert "refused" in x.message.value and "applied nothing" in x.message.value
    for k in range(3):
        x.command.value = f"x={k}"
        x.buttons["Client request"].click()
    x.buttons["Run 1 s"].click()
    x.buttons["Snapshot"].click()
    node = x.cluster.nodes[1]
    assert node.snapshot_index == node.last_applied >= 3 and "Snapshot S1" in x.message.value
    assert "refused" not in x.message.value


def bars(x: ClusterExplorer) -> list[tuple[int, float]]:
    """The snapshot bars of the explorer's log panel as (server row, log index): bold lines, from a row's top to
    its bottom, drawn in the panel's columns (column k is index log_first + k - 1) and rows (row i of n spans
    (i-1)/n .. i/n)."""
    t, n = next(t for t in x.figure.data if t.name == "snapshot bars"), x.picture.n
    assert t.line.width == 4
    return sorted((int((y0 + y1) / 2 * n) + 1, x0 + x.picture.log_first - 1)
                  for x0, y0, y1 in zip(t.x[::3], t.y[::3], t.y[1::3]) if x0 is not None)


def test_the_log_panel_draws_a_bar_where_each_servers_snapshot_ends_and_the_key_says_so_in_words() -> None:
    from raftedu.widgets import legend_html

    x = ClusterExplorer(n=3, seed=1)
    x.buttons["Run 1 s"].click()
    for k in range(4):
        x.command.value = f"x={k}"
        x.buttons["Client request"].click()
    x.buttons["Run 1 s"].click()
    assert bars(x) == []  # no snapshot yet: only the lines between the rows
    x.member.value = 2
    x.buttons["Snapshot"].click()
    s2 = x.cluster.nodes[2].snapshot_index
    assert s2 >= 4 and bars(x) == [(2, s2 + 0.5)]
    cells = next(t for t in x.figure.data if t.name == "log cells")  # left of the bar the cells are hollow
    hollow = sorted((int(y * x.picture.n) + 1, xi + x.picture.log_first - 1)  # (row, index), as bars() reads them
                    for xi, y, sym in zip(cells.x, cells.y, cells.marker.symbol) if sym == "square-open")
    assert hollow == [(2, k) for k in range(1, s2 + 1)]
    x.buttons["Step back"].click()  # undone: the bar goes with the snapshot
    assert bars(x) == [] and x.cluster.nodes[2].snapshot_index == 0
    x.set_theme("dark")  # a redraw in another theme keeps the bars it has
    x.buttons["Snapshot"].click()
    assert bars(x) == [(2, s2 + 0.5)]
    x.set_theme("light")
    assert bars(x) == [(2, s2 + 0.5)]
    assert "where a snapshot ends" in legend_html() and "hollow log cell" in legend_html()


def test_an_empty_plot_reported_by_the_page_gets_a_fresh_figure_widget_with_the_same_picture() -> None:
    x = ClusterExplorer(n=3, seed=1)
    x.buttons["Run 1 s"].click()
    old = x.figure
    def picture(figure):
        return [{k: v for k, v in t.to_plotly_json().items() if k != "uid"} for t in figure.data]

    before = picture(old)
    x.message.figure_empty += 1  # what the page does after 4 s of an empty plot
    assert x.figure is not old and x.figure in x.children and old not in x.children
    assert picture(x.figure) == before


def test_text_and_picture_read_the_same_state_network_readouts_and_preset_colours() -> None:
    """The readouts beside the sliders, the loss badge and the network line say the same; a preset names the colour
    its dashes are drawn in (issue 29 item 6)."""
    from raftedu.viz.style import CUT_COLOR, OKABE_ITO

    x = ClusterExplorer(n=5, seed=7)
    x.drop_rate.value = 0.2
    assert x.drop_readout.value == "20 % lost" and "drop 20 %" in next(t for t in x.figure.data
                                                                       if t.name == "loss badge").text[0]
    x.delay.value = (10, 40)
    assert x.delay_readout.value == "10–40 ms" and "delay 10–40 ms" in network(x)
    x.apply_preset()
    assert CUT_COLOR == OKABE_ITO["vermillion"] and "dashed in vermillion (orange-red)" in x.message.value
    assert "red dashed" not in x.message.value and "dashed red" not in x.message.value
    x.buttons["Step back"].click()  # the readouts follow a replay too
    x.buttons["Step back"].click()
    assert x.delay_readout.value == "5–15 ms" and x.drop_readout.value == "20 % lost"


def test_the_event_log_and_the_key_show_everything_they_hold_without_a_scroll_box() -> None:
    x = ClusterExplorer(n=5, seed=7)
    x.advance(2000)
    assert x.event_log.value.count("<div><code>") == 6 and all(p.layout.max_height is None for p in x.panels.values())
    key = x.panels["Key"].value
    for kind in ("PreVote", "TimeoutNow", "InstallSnapshot", "RequestVote"):
        assert kind in key
    from raftedu.widgets import _SHAPES

    assert "grid-template-columns" in key and _SHAPES["octagon"] in key  # the crashed server's stop sign
