"""ClusterExplorer: a live Raft cluster in one notebook line, with buttons to break it (ipywidgets only).

``ClusterExplorer(n=5, seed=7)`` shows the cluster picture of
:mod:`raftedu.viz` and the controls a lesson needs: crash / restart / "time
out now" per server, a partition editor, drop rate and delay, client
requests, play / pause, one step forwards or back, and a log in words of what
just happened. The explorer holds no Raft logic: each control calls one
:class:`~raftedu.sim.Cluster` method and then redraws from the trace.

Stepping back replays from the seed: every action is recorded with the number
of simulator steps done before it, so a fresh cluster with the same seed
reaches exactly the same trace one step earlier.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go

from .checks import SafetyViolation
from .raft import RaftNode, Timing
from .sim import Cluster, Network
from .viz.cluster import ClusterPicture, status_line
from .viz.logs import log_axes, log_window
from .viz.scene import SceneView
from .viz.style import CUT_COLOR, DROP_COLOR, MESSAGE_STYLES, ROLE_COLORS, ROLE_LABELS, node_name, term_color

__all__ = ["ClusterExplorer", "Action", "StepCountingCluster", "PRESETS", "preset_actions", "parse_groups", "legend_html"]

PRESETS = ("isolate a node", "split in halves", "leader in the minority", "bridge", "majorities ring")
"""Partition presets, in the order the dropdown shows them."""

LOG_LINES = 8
"""How many sentences the event log shows."""

TICK_MS = 150
"""Real milliseconds between two play ticks. Each tick redraws the figure; measured in headless
chromium on a busy 2-core machine the browser redrew 6-10 times a second, so faster ticks would
queue up and the picture would lag behind (and keep moving after pause)."""


@dataclass(frozen=True)
class Action:
    """A user action on the cluster: ``cluster.<name>(*args)``, done after ``steps`` steps at time ``now``."""

    steps: int
    now: int
    name: str
    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()

    def apply(self, cluster: Cluster) -> Any:
        """Call the action's method on ``cluster``."""
        return getattr(cluster, self.name)(*self.args, **dict(self.kwargs))


class StepCountingCluster(Cluster):
    """A :class:`~raftedu.sim.Cluster` that counts its :meth:`step` calls (``run`` steps too)."""

    steps = 0

    def step(self) -> list[Any]:
        """Process the next event on the heap, counting the call."""
        self.steps += 1
        return super().step()

    def replay(self, actions: list[Action], target: int) -> None:
        """From a fresh cluster: redo ``actions`` each at its step count and time, then step up to ``target`` steps."""
        for a in actions:
            while self.steps < a.steps:
                self.step()
            if a.now > self.now:  # the action came after run(): no event was due before a.now
                self.run(a.now - self.now)
            a.apply(self)
        while self.steps < target:
            self.step()


def parse_groups(text: str, n: int) -> list[list[int]]:
    """Parse a free grouping like ``"1,2 | 3 4 5"`` (or ``S1 S2 | S3``) into lists of server ids."""
    groups = []
    for part in text.split("|"):
        ids = []
        for word in part.replace(",", " ").split():
            digits = word.upper().removeprefix("S")
            if not digits.isdigit():
                raise ValueError(f"could not read {word!r} in {text!r}: write server numbers, groups separated by '|', "
                                 f"e.g. '1,2 | 3,4,5'")
            ids.append(int(digits))
        if ids:
            groups.append(ids)
    if not groups:
        raise ValueError(f"no groups in {text!r}: write e.g. '1,2 | 3,4,5' (servers 1..{n})")
    return groups


def preset_actions(preset: str, n: int, node: int, leader: int | None) -> list[tuple[str, tuple[Any, ...]]]:
    """The cluster calls that make partition ``preset`` (one of :data:`PRESETS`) for ``n`` servers.

    ``node`` is the server to isolate; ``leader`` (if any) is put in the minority.
    "bridge" and "majorities ring" cannot be made of disjoint groups: they cut
    individual links both ways (one :meth:`Cluster.cut` per direction).
    """
    ids = list(range(1, n + 1))
    if preset == "isolate a node":
        return [("isolate", (node,))]
    if preset == "split in halves":
        return [("partition", (ids[: n // 2], ids[n // 2 :]))]
    if preset == "leader in the minority":
        first = leader if leader is not None else 1
        minority = [first] + [i for i in ids if i != first][: (n - 1) // 2 - 1]
        return [("partition", (sorted(minority),))]
    if n < 3:
        raise ValueError(f"the {preset!r} preset needs at least 3 servers; this cluster has {n}")
    pairs: list[tuple[int, int]] = []
    if preset == "bridge":  # two sides that share one server: each side + bridge is a majority
        side = (n - 1) // 2
        pairs = [(a, b) for a in ids[:side] for b in ids[n - side :]]
    elif preset == "majorities ring":  # each server sees its ring neighbours: a majority, but each a different one
        reach = (n // 2 + 1) // 2  # sees itself and `reach` servers each side: 2*reach + 1 >= a majority
        pairs = [(a, b) for a in ids for b in ids if a < b and min(b - a, n - (b - a)) > reach]
    else:
        raise ValueError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    return [("cut", (a, b)) for a, b in pairs] + [("cut", (b, a)) for a, b in pairs]


def legend_html() -> str:
    """What the colours and symbols of the cluster picture mean, as one compact HTML block.

    The explorer shows this instead of plotly's legend: the browser then
    redraws a smaller figure after every action.
    """
    def swatch(symbol: str, color: str, text: str) -> str:
        return (f'<span style="white-space:nowrap"><span style="color:{color};font-size:1.15em">'
                f"{symbol}</span> {html.escape(text, quote=False)}</span>")

    shapes = {"diamond": "◆", "circle": "●", "square": "■", "square-open": "□", "triangle-up": "▲"}
    roles = "".join(swatch("●", color, ROLE_LABELS[role]) for role, color in ROLE_COLORS.items())
    messages = "".join(swatch(shapes[symbol], color, name) for name, symbol, color, _size in MESSAGE_STYLES.values())
    other = (swatch("✕", DROP_COLOR, "dropped message") + swatch("╌", CUT_COLOR, "blocked link (half: one way only)")
             + swatch("▬", ROLE_COLORS["candidate"], "election timer: time left")
             + swatch("■", term_color(1), "log cell: colour and number = term; faint = not committed yet")
             + swatch("▲", ROLE_COLORS["leader"], "leader's matchIndex") + swatch("△", ROLE_COLORS["leader"], "nextIndex"))
    row = '<div style="flex-basis:100%;height:0"></div>'
    return (f'<div style="display:flex;flex-wrap:wrap;column-gap:1.1em;font-size:12px;line-height:1.7;white-space:normal">'
            f"{roles}{row}{messages}{row}{other}</div>")


def _button(label: str, handler: Callable[[], None], tip: str = "", width: str = "auto") -> W.Button:
    button = W.Button(description=label, tooltip=tip or label, layout=W.Layout(width=width))
    button.on_click(lambda _b: handler())
    return button


class ClusterExplorer(W.VBox):
    """A live, breakable Raft cluster: ``ClusterExplorer(n=5, seed=7)`` as the last line of a cell.

    ``cluster`` is the simulator (inspect it freely); ``figure`` the live
    plotly FigureWidget (None when only a static picture can be shown);
    ``buttons`` maps labels like ``"Crash S3"`` to their buttons; ``message``
    shows what the last action did or why it was refused; ``event_log`` explains
    the latest events in words. ``live=False`` forces the static picture.
    """

    def __init__(self, n: int = 5, seed: int = 7, *, timing: Timing = Timing(), network: Network = Network(),
                 node_class: type[RaftNode] = RaftNode, live: bool = True, tick_ms: int = TICK_MS) -> None:
        """Build the cluster (bad sizes or settings raise ValueError at once) and the controls.

        ``tick_ms`` is how often (real milliseconds) play advances the cluster.
        """
        if isinstance(tick_ms, bool) or not isinstance(tick_ms, int) or tick_ms < 20:
            raise ValueError(f"tick_ms must be a whole number of milliseconds ≥ 20; got {tick_ms!r}")
        self._tick_ms = tick_ms
        self._syncing = False
        self._config: dict[str, Any] = dict(n=n, seed=seed, timing=timing, network=network, node_class=node_class)
        self.cluster = StepCountingCluster(**self._config)
        self.actions: list[Action] = []
        self.scene = SceneView()
        self.picture = ClusterPicture(n, election_timeout_high=timing.election_timeout[1])
        self.buttons: dict[str, W.Button] = {}
        self.message = W.HTML(value="")
        self.event_log = W.HTML(value="", layout=W.Layout(min_height="9em"))
        self._sync_scene()
        self._sent: dict[int, dict[str, Any]] = {}
        self._title = f"Raft cluster: {n} servers, seed {seed}"
        self.figure: go.FigureWidget | None = None
        self._static = W.Output()
        note = W.HTML()
        if live:
            try:
                self.figure = self._new_figure_widget()
            except ImportError as err:  # plotly's FigureWidget needs anywidget
                note.value = (f"<i>Live figure unavailable ({html.escape(str(err))}); showing a static picture "
                              "redrawn after each action.</i>")
        else:
            note.value = "<i>Static picture (live=False): it is redrawn after each action.</i>"
        legend = W.HTML(legend_html(), layout=W.Layout(width="100%"))
        super().__init__([note, self.figure if self.figure is not None else self._static, legend,
                          *self._controls(), self.message, self.event_log])
        self.add_class("raftedu-explorer")
        self._shown = False
        self.refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Show the explorer; the first time, with a FigureWidget built from the current state.

        Measured with plotly 7.1 + anywidget 0.11 in JupyterLab 4.6: updates
        sent to a FigureWidget before any view of it exists are not replayed
        correctly when it is first shown (traces come out mixed up). A fresh
        FigureWidget of the current picture avoids that.
        """
        if not self._shown and self.figure is not None:
            self._shown = True
            fresh = self._new_figure_widget()
            self.children = tuple(fresh if child is self.figure else child for child in self.children)
            self.figure.close()
            self.figure = fresh
        return super()._repr_mimebundle_(**kwargs)

    def _new_figure_widget(self) -> go.FigureWidget:
        """A FigureWidget of the current picture; what it shows is remembered so refresh() sends only changes."""
        self.picture.log_first = log_window(self.scene)
        widget = go.FigureWidget(self.picture.figure(self.scene, title=self._title, legend=False))
        self._sent = dict(zip(self.picture.dynamic_indices, self.picture.dynamic(self.scene)))
        return widget

    # ---- controls ------------------------------------------------------------

    def _controls(self) -> list[W.Widget]:
        ids = self.cluster.ids
        columns = []
        for i in ids:
            col = []
            for verb, fn, tip in (("Crash", self.crash, "stop this server (its term, vote and log survive)"),
                                  ("Restart", self.restart, "bring this crashed server back as a follower"),
                                  ("Time out", self.timeout_now, "make its election timer run out now")):
                label = f"{verb} {node_name(i)}"
                self.buttons[label] = _button(label, lambda fn=fn, i=i: fn(i), tip, "8.5em")
                col.append(self.buttons[label])
            columns.append(W.VBox(col))
        self.play = W.Play(value=0, min=0, max=10**9, step=1, interval=self._tick_ms, description="play",
                           tooltip=f"play / pause: advance the cluster by 'ms per tick' every {self._tick_ms} ms")
        self.play.observe(lambda change: self.advance(self.speed.value), names="value")
        self.speed = W.IntSlider(value=5, min=1, max=100, description="ms per tick",
                                 style={"description_width": "initial"}, layout=W.Layout(width="260px"))
        for label, fn, tip in (("Step", self.step, "process one event"),
                               ("Step back", self.step_back, "undo the last event or action (replays from the seed)"),
                               ("Run 1 s", lambda: self.advance(1000), "advance one virtual second")):
            self.buttons[label] = _button(label, fn, tip)
        time_row = W.HBox([self.play, self.speed, self.buttons["Step"], self.buttons["Step back"], self.buttons["Run 1 s"]])

        self.preset = W.Dropdown(options=PRESETS, value=PRESETS[0], description="partition",
                                 layout=W.Layout(width="260px"))
        self.preset_node = W.Dropdown(options=[(node_name(i), i) for i in ids], value=ids[0], description="node",
                                      layout=W.Layout(width="140px"), style={"description_width": "3em"})
        self.groups = W.Text(value="", placeholder="free grouping, e.g. 1,2 | 3,4,5", layout=W.Layout(width="220px"))
        self.buttons["Apply preset"] = _button("Apply preset", self.apply_preset)
        self.buttons["Partition"] = _button("Partition", self.apply_groups, "split the network into the groups typed")
        self.buttons["Heal"] = _button("Heal", lambda: self.act("heal"), "remove every partition and cut")
        net_row = W.HBox([self.preset, self.preset_node, self.buttons["Apply preset"], self.groups,
                          self.buttons["Partition"], self.buttons["Heal"]])

        net = self.cluster.net
        self.drop_rate = W.FloatSlider(value=net.drop_rate, min=0.0, max=0.5, step=0.05, description="drop rate",
                                       continuous_update=False, layout=W.Layout(width="300px"))
        self.delay = W.IntRangeSlider(value=net.delay, min=0, max=200, step=1, description="delay (ms)",
                                      continuous_update=False, layout=W.Layout(width="360px"))
        self.drop_rate.observe(lambda ch: self._syncing or self.act("set_network", drop_rate=ch["new"]), names="value")
        self.delay.observe(lambda ch: self._syncing or self.act("set_network", delay=tuple(ch["new"])), names="value")
        self.command = W.Text(value="x=1", description="command", layout=W.Layout(width="200px"))
        self.buttons["Client request"] = _button("Client request", self.client_request,
                                                 "send the command to the leader", "9em")
        client_row = W.HBox([self.drop_rate, self.delay, self.command, self.buttons["Client request"]])
        return [W.HBox(columns), time_row, net_row, client_row]

    # ---- actions: each one cluster call, then a redraw ---------------------------

    def act(self, name: str, *args: Any, **kwargs: Any) -> bool:
        """Do ``cluster.<name>(*args, **kwargs)``, record it for replay and redraw; a refusal is shown, not raised."""
        return self.act_all([(name, args, kwargs)])

    def act_all(self, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> bool:
        """Do several cluster calls in order with one redraw at the end; stop at the first refusal and show it."""
        error = ""
        for name, args, kwargs in calls:
            action = Action(self.cluster.steps, self.cluster.now, name, tuple(args), tuple(sorted(kwargs.items())))
            try:
                action.apply(self.cluster)
            except (ValueError, SafetyViolation) as err:
                error = str(err) if isinstance(err, ValueError) else f"safety check failed: {err}"
                break
            self.actions.append(action)
        self.refresh(error=error)
        return not error

    def crash(self, i: int) -> bool:
        """Crash server ``i``."""
        return self.act("crash", i)

    def restart(self, i: int) -> bool:
        """Restart crashed server ``i``."""
        return self.act("restart", i)

    def timeout_now(self, i: int) -> bool:
        """Make server ``i``'s election timer run out now."""
        return self.act("timeout_now", i)

    def client_request(self) -> bool:
        """Send the command in the text box to the leader (rejected, in words, when there is none)."""
        return self.act("request", self.command.value)

    def apply_preset(self) -> bool:
        """Heal, then make the partition chosen in the preset dropdown."""
        try:
            calls = preset_actions(self.preset.value, self.cluster.n, self.preset_node.value, self.cluster.leader())
        except ValueError as err:
            self.refresh(error=str(err))
            return False
        heal = [("heal", (), {})] if self.cluster.groups or self.cluster.cuts else []
        return self.act_all(heal + [(name, args, {}) for name, args in calls])

    def apply_groups(self) -> bool:
        """Partition the network into the groups typed in the text box (link cuts stay until Heal)."""
        try:
            groups = parse_groups(self.groups.value, self.cluster.n)
        except ValueError as err:
            self.refresh(error=str(err))
            return False
        return self.act("partition", *groups)

    def step(self) -> list[Any]:
        """Process one event and redraw; return the trace events it produced."""
        try:
            events = self.cluster.step()
        except SafetyViolation as err:
            self.play.playing = False
            self.refresh(error=f"safety check failed: {err}")
            return []
        self.refresh(info="" if events else "nothing happened (a timer that had been reset)")
        return events

    def advance(self, ms: int) -> None:
        """Let ``ms`` virtual milliseconds pass (what play does on every tick), then redraw."""
        try:
            self.cluster.run(ms)
        except SafetyViolation as err:
            self.play.playing = False
            self.refresh(error=f"safety check failed: {err}")
            return
        self.refresh()

    def step_back(self) -> bool:
        """Undo the last action, or else the last event, by replaying from the seed; False if at the start."""
        steps = self.cluster.steps
        undone: Action | None = None
        if self.actions and self.actions[-1].steps == steps:
            keep, target, undone = self.actions[:-1], steps, self.actions[-1]
        elif steps > 0:
            keep, target = self.actions, steps - 1
        else:
            self.refresh(error="already at the start: nothing to step back to")
            return False
        fresh = StepCountingCluster(**self._config)
        fresh.replay(keep, target)
        if undone is not None and undone.now > fresh.now:  # back to the moment of the undone action
            fresh.run(undone.now - fresh.now)
        self.cluster, self.actions = fresh, keep
        self.scene = SceneView()
        self._syncing = True  # the sliders show the replayed network again, without acting on it
        self.drop_rate.value, self.delay.value = fresh.net.drop_rate, fresh.net.delay
        self._syncing = False
        self.refresh(info=f"stepped back to step {target} (replayed from seed {self._config['seed']})")
        return True

    # ---- drawing --------------------------------------------------------------------

    def _sync_scene(self) -> None:
        for e in self.cluster.trace.events[self.scene.events_seen :]:
            self.scene.apply(e)
        self.scene.time = self.cluster.now

    def refresh(self, *, error: str = "", info: str = "") -> None:
        """Bring the picture, the buttons, the message and the event log up to date with the cluster."""
        self._sync_scene()
        scene, picture = self.scene, self.picture
        first = log_window(scene)
        relayout = first != picture.log_first
        picture.log_first = first
        # Words and buttons first: they are cheap for the browser, the figure is not.
        for i in self.cluster.ids:
            node = scene.nodes[i]
            self.buttons[f"Crash {node_name(i)}"].disabled = not node.alive
            self.buttons[f"Restart {node_name(i)}"].disabled = node.alive
            self.buttons[f"Time out {node_name(i)}"].disabled = not node.alive or node.role == "leader"
        self.buttons["Step back"].disabled = self.cluster.steps == 0 and not self.actions
        if error:
            self.message.value = f'<b style="color:#b00020">⚠ {html.escape(error, quote=False)}</b>'
        else:
            self.message.value = f"<span>{html.escape(info, quote=False)}</span>" if info else ""
        self.event_log.value = self._log_html()
        dyn = picture.dynamic(scene)
        if self.figure is not None:
            changed = [(i, t) for i, t in zip(picture.dynamic_indices, dyn) if self._sent.get(i) != t]
            with self.figure.batch_update():  # only what changed: each restyled trace costs the browser time
                for index, trace in changed:
                    self.figure.data[index].update({k: v for k, v in trace.items() if k != "type"})
                    self._sent[index] = trace
                if relayout:
                    self.figure.layout.xaxis2.range = log_axes(self.cluster.n, first, picture.log_width)[0]["range"]
        else:
            figure = picture.figure(scene, title=self._title)
            bundle = {"application/vnd.plotly.v1+json": json.loads(figure.to_json()), "text/plain": status_line(scene)}
            self._static.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)

    def _log_html(self) -> str:
        lines = []
        for e in reversed(self.cluster.trace.events):
            if e.text and e.text != "duplicate":
                lines.append(f"<div><code>{e.time:>6} ms</code> {html.escape(e.text, quote=False)}</div>")
                if len(lines) == LOG_LINES:
                    break
        return "<b>What just happened</b> (newest first)" + "".join(lines)

    def recent(self, k: int = LOG_LINES) -> list[str]:
        """The sentences of the ``k`` newest events that have one, newest first (what the log shows)."""
        return [e.text for e in reversed(self.cluster.trace.events) if e.text and e.text != "duplicate"][:k]
