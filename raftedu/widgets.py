"""ClusterExplorer: a live Raft cluster in one notebook line, with buttons to break it (ipywidgets only).

``ClusterExplorer(n=5, seed=7)`` shows, in one compact block that fits a
laptop screen (1280×720 and up): a toolbar (play / pause at a speed in
"× real time", Step back, Step, Run 1 s), the cluster picture of
:mod:`raftedu.viz`, right under it the explanation of the last click (an
``aria-live`` region, so screen readers announce it), and the controls
grouped in panels: Servers (crash / restart / time out now), Network
(partition presets or free groups, heal, drop rate, delay), Client (a
request), Event log (every sentence, newest first) and Key (what each symbol
means). The explorer holds no Raft logic: each control calls one
:class:`~raftedu.sim.Cluster` method and then redraws from the trace.

Step goes to the next event that changes something (it never answers "nothing
happened") and says what it was; Step back undoes exactly one such step or one
action by replaying: every action is recorded with the number of simulator
steps done before it, so a fresh cluster with the same seed reaches exactly the
same trace. The replay starts from the newest checkpoint before its target (a
copy of the cluster kept every :data:`CHECKPOINT_STEPS` steps and before each
action), not from the seed: same seed, same run, much less to redo.
"""

from __future__ import annotations

import copy
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go

from .checks import SafetyViolation
from .raft import EVENT_FIELDS, Event, RaftNode, Timing
from .sim import Cluster, Network
from .trace import Trace
from .viz.cluster import ClusterPicture, network_line, status_line
from .viz.logs import MATCH_SYMBOL, log_window
from .viz.scene import SceneView
from .viz.style import (
    CUT_COLOR,
    DROP_COLOR,
    MESSAGE_STYLES,
    ROLE_COLORS,
    ROLE_LABELS,
    THEMES,
    describe_message,
    ink,
    message_kind,
    node_name,
    term_color,
)

__all__ = ["ClusterExplorer", "Action", "StepCountingCluster", "PRESETS", "SPEEDS", "PANELS", "MAX_SERVERS", "preset_actions",
           "parse_groups", "legend_html", "describe_events", "LiveText"]

PRESETS = ("isolate a node", "split in halves", "leader in the minority", "bridge", "majorities ring")
"""Partition presets, in the order the dropdown shows them."""

LOG_LINES = 6
"""How many sentences the Event log panel shows (newest first): all of them visible at 1280×720 without scrolling;
``explorer.recent(k)`` gives more."""

TICK_MS = 150
"""Real milliseconds between two play ticks. Each tick redraws the figure; measured in headless
chromium on a busy 2-core machine the browser redrew 6-10 times a second, so faster ticks would
queue up and the picture would lag behind (and keep moving after pause)."""

SPEEDS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
"""Play speeds, as multiples of real time: at 0.1× an election (a 150-300 ms timeout, then the vote) takes 2-3 s."""

PANELS = ("Servers", "Network", "Client", "etcd", "Event log", "Key")
"""The control panels, in the order of their tabs."""

LOG_STEP = 5
"""The explorer's log panel scrolls 5 indices at a time (each scroll rewrites every cell and index label)."""

MAX_SERVERS = 9
"""The most servers the explorer draws (at the start or by Add server): its figure's layout is made once for every
size up to this, so adding a server changes only traces (issue 29); a ring of 9 still reads (labels ≥ 11 px)."""

CHECKPOINT_STEPS = 200
"""The explorer keeps a copy of its cluster every this many simulator steps (and before each action): Step back
replays from the newest one before its target (measured: a copy takes ~5 ms, 200 steps ~50 ms to redo)."""

CHECKPOINT_NEAR = 20
"""An action keeps a checkpoint unless the newest is fewer steps back than this (a copy costs ~5 ms of the click;
replaying that few steps costs less than that)."""

SCENE_COPY_EVENTS = 500
"""The explorer copies its scene (what the picture is drawn from) every this many trace events: after Step back it
reads only the events since the newest copy before the new moment, not the whole trace."""

MAX_STEP_SKIP = 10_000
"""Step gives up (and says so) after this many heap entries that changed nothing."""

_NO_REDRAW = {"transition": {"duration": 0}, "frame": {"duration": 0, "redraw": False}, "mode": "immediate"}
"""plotly.js ``animate`` options that replot only the named traces, at once (ClusterExplorer._redraw_traces)."""


def _flat(props: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested plotly properties as plotly.js property paths: ``{"marker": {"color": c}}`` → ``{"marker.color": c}``
    (an update merges them into a trace: a property not named keeps its value)."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _can_redraw_traces_only(figure: go.FigureWidget) -> bool:
    """Whether this plotly's FigureWidget has the batch-animate internals ClusterExplorer._redraw_traces uses (plotly
    5-7 have); without them every redraw goes through ``batch_update``, slower but the same picture."""
    return all(hasattr(figure, name) for name in ("_in_batch_mode", "_batch_trace_edits", "_perform_batch_animate"))


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
    """A :class:`~raftedu.sim.Cluster` that counts its :meth:`step` calls (``run`` steps too).

    ``visible`` lists the step counts whose step changed something (recorded
    at least one trace event): a stale timer that had been reset changes nothing.
    ``on_step``, when set, is called with the cluster after every
    :data:`CHECKPOINT_STEPS`-th step (the explorer keeps a :meth:`checkpoint` then).
    """

    steps = 0
    held_events = -1
    """In a :meth:`checkpoint`: how many events of its run's trace it stands for (-1: a live cluster)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """A cluster as :class:`~raftedu.sim.Cluster` builds it, counting from 0."""
        self.visible: list[int] = []
        self.on_step: Callable[[StepCountingCluster], None] | None = None
        super().__init__(*args, **kwargs)

    def step(self) -> list[Any]:
        """Process the next event on the heap, counting the call (and noting it if it changed something)."""
        self.steps += 1
        events = super().step()
        if events:
            self.visible.append(self.steps)
        if self.on_step is not None and self.steps % CHECKPOINT_STEPS == 0:
            self.on_step(self)
        return events

    def checkpoint(self) -> "StepCountingCluster":
        """A copy of this cluster as it is now, without its trace (and without ``on_step``): :meth:`resume` gives a
        copy of it the first events of a later trace of this run. The copy holds every server, timer, message in
        flight and random generator: stepping it on does exactly what stepping this cluster on would."""
        empty = Trace()
        held = copy.deepcopy(self, {id(self.trace): empty, id(self.trace.cells): empty.cells, id(self.on_step): None})
        held.held_events = len(self.trace)  # how many events of the trace it stands for
        return held

    def resume(self, trace: Trace) -> "StepCountingCluster":
        """A fresh copy of this :meth:`checkpoint` with its trace: the first events of ``trace``, the trace of a run
        that passed through this checkpoint (a trace only grows, and the same seed makes the same run)."""
        fresh = copy.deepcopy(self)
        fresh.trace.cells.extend(trace.cells[: self.held_events * len(EVENT_FIELDS)])  # (its alias of them too)
        del fresh.held_events  # a live cluster again
        return fresh

    def replay_by_time(self, actions: list[Action], until: int) -> tuple[list[Action], str]:
        """From a fresh cluster: redo ``actions`` each at its time (not step count: with other options the steps
        differ), then run to ``until`` ms. Returns the actions done (re-stamped) and, if one was refused now, why."""
        done: list[Action] = []
        for a in actions:
            if a.now > self.now:
                self.run(a.now - self.now)
            again = Action(self.steps, self.now, a.name, a.args, a.kwargs)
            try:
                again.apply(self)
            except ValueError as err:
                return done, f"{a.name} at t = {a.now} ms was refused this time ({err}); later actions dropped"
            done.append(again)
        if until > self.now:
            self.run(until - self.now)
        return done, ""

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


@dataclass(frozen=True)
class _Checkpoint:
    """A past moment of the explorer's run: a :meth:`StepCountingCluster.checkpoint` of its cluster, how many of the
    recorded actions were done by then, and the action about to be done (None: taken right after a step)."""

    cluster: StepCountingCluster
    actions: int
    before: Action | None = None

    def serves(self, keep: list[Action], target: int, undone: Action | None) -> bool:
        """Whether the replay of ``keep`` up to ``target`` steps (then to ``undone``'s time) passes through exactly
        this state, so it may start here rather than at the seed. (The explorer drops the checkpoints that lie after
        a state it steps back to: the first ``actions`` of ``keep`` are the ones done by then.)"""
        done, steps = self.actions, self.cluster.steps
        if done > len(keep) or steps > target:
            return False
        if self.before is not None:  # taken just before an action at this step count and time: it must come next
            return (keep[done] if done < len(keep) else undone) == self.before
        # taken right after a step, as the replay leaves it: the next action must not come before that step
        return done == len(keep) or keep[done].steps >= steps


MAX_CHECKPOINTS = 64
"""The most checkpoints the explorer keeps; beyond, every other older one goes (Step back only gets slower)."""


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


_SHAPES = {  # CSS clip-paths of plotly's marker symbols that have no common font glyph
    "octagon": "polygon(30% 0,70% 0,100% 30%,100% 70%,70% 100%,30% 100%,0 70%,0 30%)",
    "hexagon": "polygon(25% 0,75% 0,100% 50%,75% 100%,25% 100%,0 50%)",
    "pentagon": "polygon(50% 0,100% 38%,81% 100%,19% 100%,0 38%)",
    MATCH_SYMBOL: "polygon(0 0,100% 0,100% 16%,54% 16%,92% 100%,8% 100%,46% 16%,0 16%)",  # arrow up to a bar
}
_GLYPHS = {"diamond": "◆", "diamond-open": "◇", "star": "★", "circle": "●", "square": "■", "square-open": "□",
           "triangle-up": "▲"}


def _swatch(symbol: str, color: str, text: str, ring: int = 0, name: str = "") -> str:
    """One Key entry: the symbol as the picture draws it (a font glyph, or a CSS shape with an outline in the page's
    text colour so it shows on light and dark pages), then its meaning. ``name``: one more class on a glyph, for a
    dark-page rule in the explorer's CSS."""
    if symbol in _SHAPES or symbol == "circle-fill":
        clip = f"clip-path:{_SHAPES[symbol]};" if symbol in _SHAPES else "border-radius:50%;"
        outline = "var(--jp-ui-font-color1, rgb(40, 40, 40))"
        mark = (f'<span class="raftedu-swatch" style="display:inline-block;width:0.95em;height:0.95em;{clip}'
                f'background:{outline};vertical-align:-0.1em;position:relative">'
                f'<span style="position:absolute;inset:{1 + ring}px;{clip}background:{color};color:{color}"></span></span>')
    else:
        mark = (f'<span class="raftedu-swatch{" " + name if name else ""}" style="color:{color};font-size:1.15em">'
                f'{_GLYPHS.get(symbol, symbol)}</span>')
    return f"<span>{mark} {html.escape(text, quote=False)}</span>"


def legend_html() -> str:
    """What the colours and symbols of the cluster picture mean, as one compact HTML block (the Key panel).

    The explorer shows this instead of plotly's legend: the browser then
    redraws a smaller figure after every action. Three columns at 1280 px, so
    every entry shows without scrolling (issue 29).
    """
    roles = "".join(_swatch("octagon" if role == "crashed" else "circle-fill", color, ROLE_LABELS[role],
                            ring=2 if role == "leader" else 0) for role, color in ROLE_COLORS.items())
    roles += _swatch("hexagon", ROLE_COLORS["follower"], "learner: log but no vote")
    messages = "".join(_swatch(symbol, color, name) for name, symbol, color, _size in MESSAGE_STYLES.values())
    other = (_swatch("✕", DROP_COLOR, "dropped message")
             + _swatch("╌", CUT_COLOR, "blocked link, dashed (half: one way)")
             + _swatch("┈", DROP_COLOR, "dotted links: messages get dropped")
             + _swatch("▰▱", "inherit", "election timer: time left")
             + _swatch("■", term_color(3), "log cell: colour and number = term")
             + _swatch("■", "rgba(49, 104, 142, 0.35)", "faint log cell: not known committed yet")
             + _swatch("⚙", "inherit", "configuration entry")
             + _swatch("□", term_color(3), "hollow log cell: in the snapshot")
             + _swatch("┃", "inherit", "bold bar: where a snapshot ends")
             + _swatch(MATCH_SYMBOL, ROLE_COLORS["leader"], "matchIndex (leader's view; 'none')")
             + _swatch("△", ROLE_COLORS["leader"], "nextIndex (leader's view)", name="raftedu-next-index"))
    return (f'<div style="display:grid;grid-template-columns:repeat(auto-fill,minmax(255px,1fr));column-gap:0.8em;'
            f'font-size:11.5px;line-height:1.3;white-space:normal">{roles}{messages}{other}</div>')


def describe_events(events: list[Event]) -> str:
    """What a handful of trace events did, in one sentence for students (what Step reports).

    Deliveries, drops and the servers' own sentences are told in order;
    messages one server sends at once are grouped ("S3 sent RequestVote to S1, S2").
    """
    parts: list[str] = []
    sends: dict[tuple[int, str], list[int]] = {}
    for e in events:
        if e.kind == "send" and e.msg is not None:
            sends.setdefault((e.msg.src, message_kind(e.msg)), []).append(e.msg.dst)
        elif e.kind == "deliver" and e.msg is not None:
            parts.append(f"{node_name(e.msg.dst)} received {describe_message(e.msg)}")
        elif e.kind == "drop" and e.msg is not None:
            parts.append(f"lost: {describe_message(e.msg)} ({e.value})")
        elif e.text and e.text != "duplicate":
            parts.append(e.text)
    for (src, kind), dsts in sends.items():
        name = "heartbeat (empty AppendEntries)" if kind == "Heartbeat" else kind
        parts.append(f"{node_name(src)} sent {name} to {', '.join(node_name(d) for d in dsts)}")
    return "; ".join(parts) if parts else "a timer that had been reset ran out (nothing changed)"


_LIVE_ESM = """
function pageTheme() {
  const b = document.body;
  return b && b.dataset && b.dataset.jpThemeLight === 'false' ? 'dark' : 'light';
}
// The keyboard stays in the explorer (issue 29): JupyterLab's notebook shortcuts (ArrowUp/ArrowDown move to
// another cell in command mode) must not take the keys from a dropdown or a slider. Lumino skips every shortcut
// whose target sits inside an element carrying data-lm-suppress-shortcuts.
// When a focused button disables itself (Crash, Restart, Step back at the start), the focus would fall to the
// page: it goes to its partner (Crash S3 <-> Restart S3), else to the next control that can take it.
function keepKeyboardInside(el, done, tries = 0) {
  const explorer = el.closest('.raftedu-explorer');
  if (!explorer) {  // the view is drawn before it is attached to the page: look again shortly
    if (tries < 240) setTimeout(() => keepKeyboardInside(el, done, tries + 1), 250);
    return;
  }
  explorer.setAttribute('data-lm-suppress-shortcuts', 'true');
  // The notebook itself also handles arrow keys (it moves to the next cell and takes the focus): keep the keys
  // that move a control, and every key typed into one, from reaching it. Tab and Escape still leave the explorer.
  const moves = new Set(['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'Home', 'End', 'PageUp', 'PageDown', ' ']);
  explorer.addEventListener('keydown', (e) => {
    if (e.key === 'Tab' || e.key === 'Escape') return;
    if (moves.has(e.key) || /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) e.stopPropagation();
  });
  let last = null;
  explorer.addEventListener('focusin', (e) => { last = e.target; });
  const usable = (b) => b && !b.disabled && b.offsetParent !== null;
  // The partner of Crash S3 is Restart S3 and back; the kernel enables it a moment after it disables the one
  // pressed, so wait for it (up to 2 s) before falling back to the next control that can take the focus.
  const named = (b) => {
    const words = (b.textContent || '').trim().match(/^(Crash|Restart) (S\\d+)$/);
    if (!words) return null;
    const other = (words[1] === 'Crash' ? 'Restart ' : 'Crash ') + words[2];
    return Array.from(explorer.querySelectorAll('button')).find(x => x.textContent.trim() === other) || null;
  };
  const next = (b) => {
    const all = Array.from(explorer.querySelectorAll('button, select, input, [tabindex="0"]'));
    const after = all.slice(all.indexOf(b) + 1).concat(all.slice(0, all.indexOf(b)));
    return after.find(x => usable(x) && x.tabIndex >= 0) || null;
  };
  const lost = () => !(document.activeElement && explorer.contains(document.activeElement)
                       && !document.activeElement.disabled);
  const rescue = (from, tries = 0) => {
    if (!from || !from.disabled || !lost()) return;
    const partner = named(from);
    if (usable(partner)) { partner.focus(); return; }
    if (partner && tries < 20) { setTimeout(() => rescue(from, tries + 1), 100); return; }
    const other = next(from);
    if (other) other.focus();
  };
  const disabled = new MutationObserver(() => setTimeout(() => rescue(last), 0));
  disabled.observe(explorer, { subtree: true, attributes: true, attributeFilter: ['disabled'] });
  done(disabled);
}

export default {
  render({ model, el }) {
    const box = document.createElement('div');
    box.className = 'raftedu-live';
    box.setAttribute('role', 'status');
    box.setAttribute('aria-live', 'polite');
    box.setAttribute('aria-atomic', 'true');
    el.appendChild(box);
    const show = () => { box.innerHTML = model.get('value'); };
    show();
    model.on('change:value', show);
    const report = () => {
      const t = pageTheme();
      if (model.get('page_theme') !== t) { model.set('page_theme', t); model.save_changes(); }
    };
    report();
    const watch = new MutationObserver(report);
    watch.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-light', 'data-jp-theme-name'] });
    // plotly's FigureWidget sizes itself once, often before its box has its final width, and then stays 700 px
    // wide: report the explorer's width (now and whenever it changes) so the figure can be given it.
    let explorer = null, sizes = null, tries = 0, empty = 0;
    const measure = () => {
      explorer = explorer || el.closest('.raftedu-explorer');
      // Only once the figure is drawn: a change sent to a FigureWidget before its first view exists breaks it.
      const gd = explorer && explorer.querySelector('.js-plotly-plot');
      if (!gd || !gd.data || !gd.data.length) {
        // Seen on a loaded machine: the FigureWidget's view comes up as an empty plot and stays so. After 4 s of
        // that, ask the kernel for a fresh FigureWidget (at most 3 times).
        if (gd && gd._fullLayout && ++empty % 16 === 0 && model.get('figure_empty') < 3) {
          model.set('figure_empty', model.get('figure_empty') + 1); model.save_changes();
        }
        if (tries++ < 240) setTimeout(measure, 250);
        return;
      }
      const width = Math.round(explorer.clientWidth);
      if (width > 0 && width !== model.get('box_width')) { model.set('box_width', width); model.save_changes(); }
      if (!sizes && typeof ResizeObserver === 'function') {
        sizes = new ResizeObserver(() => measure());
        sizes.observe(explorer);
      }
    };
    setTimeout(measure, 0);
    let keys = null;
    keepKeyboardInside(el, (observer) => { keys = observer; });
    return () => { watch.disconnect(); if (sizes) sizes.disconnect(); if (keys) keys.disconnect();
                   model.off('change:value', show); };
  }
};
"""

FOCUS_RING = {"light": "rgb(0, 90, 181)", "dark": "rgb(255, 209, 102)"}
"""The explorer's keyboard-focus ring per page theme: 3 px, at least 3:1 against the page and the controls (WCAG 2.2
focus appearance; tests/browser/test_accessibility_browser.py measures it)."""

_LIVE_CSS = f"""
.raftedu-explorer :focus-visible, .raftedu-explorer .noUi-handle:focus,
div.raftedu-explorer .widget-inline-hbox input:focus {{
  outline: 3px solid {FOCUS_RING["light"]} !important; outline-offset: 2px !important; }}
body[data-jp-theme-light="false"] .raftedu-explorer :focus-visible,
body[data-jp-theme-light="false"] .raftedu-explorer .noUi-handle:focus,
body[data-jp-theme-light="false"] div.raftedu-explorer .widget-inline-hbox input:focus {{
  outline-color: {FOCUS_RING["dark"]} !important; }}
body[data-jp-theme-light="false"] .raftedu-key .raftedu-swatch {{ text-shadow: 0 0 1px #eee, 0 0 1px #eee; }}
body[data-jp-theme-light="false"] .raftedu-key .raftedu-next-index {{ color: {ink("dark", "outline")} !important; }}
"""

try:  # anywidget is a dependency (plotly's FigureWidget needs it); without it, a plain HTML widget
    import anywidget
    import traitlets

    class LiveText(anywidget.AnyWidget):
        """HTML text that screen readers announce when it changes (an ``aria-live="polite"`` status region).

        It also reports the page's JupyterLab theme (``page_theme``:
        ``"light"`` or ``"dark"``, empty until shown) so pictures can follow
        it, and the width in px of the explorer around it (``box_width``, 0
        until shown) so the figure can fill it.
        """

        _esm = _LIVE_ESM
        _css = _LIVE_CSS
        value = traitlets.Unicode("").tag(sync=True)
        page_theme = traitlets.Unicode("").tag(sync=True)
        box_width = traitlets.Int(0).tag(sync=True)
        figure_empty = traitlets.Int(0).tag(sync=True)

except ImportError:  # pragma: no cover - depends on the machine
    class LiveText(W.HTML):  # type: ignore[no-redef]
        """Plain HTML text (anywidget missing: no announcement, no theme report)."""

        page_theme = ""
        box_width = 0
        figure_empty = 0


def _button(label: str, handler: Callable[[], None], tip: str, width: str = "auto") -> W.Button:
    button = W.Button(description=label, tooltip=tip, layout=W.Layout(width=width))
    button.on_click(lambda _b: handler())
    return button


def _speed_label(speed: float) -> str:
    return f"{speed:g}× real time"


class ClusterExplorer(W.VBox):
    """A live, breakable Raft cluster: ``ClusterExplorer(n=5, seed=7)`` as the last line of a cell.

    ``cluster`` is the simulator (inspect it freely); ``figure`` the live
    plotly FigureWidget (None when only a static picture can be shown);
    ``buttons`` maps labels like ``"Crash S3"`` to their buttons; ``message``
    explains what the last click did or why it was refused (announced to
    screen readers); ``event_log`` lists the latest events in words.
    ``live=False`` forces the static picture. ``theme`` is ``"auto"``
    (follow JupyterLab's light or dark theme), ``"light"`` or ``"dark"``.
    """

    def __init__(self, n: int = 5, seed: int = 7, *, timing: Timing = Timing(), network: Network = Network(),
                 node_class: type[RaftNode] = RaftNode, live: bool = True, tick_ms: int = TICK_MS,
                 theme: str = "auto", pre_vote: bool = False, check_quorum: bool = False) -> None:
        """Build the cluster (bad sizes or settings raise ValueError at once) and the controls.

        ``tick_ms`` is how often (real milliseconds) play advances the cluster.
        ``pre_vote`` and ``check_quorum`` switch on etcd's options (also in the etcd panel).
        """
        if isinstance(tick_ms, bool) or not isinstance(tick_ms, int) or tick_ms < 20:
            raise ValueError(f"tick_ms must be a whole number of milliseconds ≥ 20; got {tick_ms!r}")
        if isinstance(n, int) and not isinstance(n, bool) and n > MAX_SERVERS:
            raise ValueError(f"the explorer draws at most {MAX_SERVERS} servers; got n={n}. For a bigger cluster use "
                             "raftedu.Cluster and its pictures (cluster_figure, timeline)")
        if theme != "auto" and theme not in THEMES:
            raise ValueError(f"unknown theme {theme!r}; choose 'auto' (follow JupyterLab) or one of: {', '.join(THEMES)}")
        self._tick_ms = tick_ms
        self._syncing = False
        self._owed = 0.0  # virtual ms that play still owes (speeds below 1 ms per tick)
        self._config: dict[str, Any] = dict(n=n, seed=seed, timing=timing, network=network, node_class=node_class,
                                            pre_vote=pre_vote, check_quorum=check_quorum)
        self.cluster = StepCountingCluster(**self._config)
        self.cluster.on_step = self._keep_checkpoint
        self.actions: list[Action] = []
        self._checkpoints: list[_Checkpoint] = []
        self._scenes: list[SceneView] = []  # copies of the scene now and then (the same run's), for Step back
        self.scene = SceneView()
        self._theme_choice = theme
        self.picture = ClusterPicture(n, election_timeout_high=timing.election_timeout[1], log_width=10,
                                      theme="light" if theme == "auto" else theme, max_n=MAX_SERVERS, seed=seed)
        self.buttons: dict[str, W.Button] = {}
        self.message = LiveText(layout=W.Layout(min_height="2.9em", width="100%", padding="2px 6px",
                                                border="1px solid var(--jp-border-color2, #ccc)"))
        self.message.add_class("raftedu-explanation")
        self.message.observe(lambda ch: self._follow_page_theme(ch["new"]), names="page_theme")
        self.message.observe(lambda ch: self._fit_width(ch["new"]), names="box_width")
        self.message.observe(lambda ch: self._renew_figure(), names="figure_empty")
        self.event_log = W.HTML(value="", layout=W.Layout(width="100%"))
        self._sync_scene()
        self._sent: dict[int, dict[str, Any]] = {}
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
        toolbar, panels = self._controls()
        super().__init__([note, toolbar, self.figure if self.figure is not None else self._static, self.message,
                          *panels])
        self.add_class("raftedu-explorer")
        self._shown = False
        self.refresh(info="Ready. Press Play, Step or Run 1 s; break things in the panels below.")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Show the explorer; the first time, with a FigureWidget built from the current state.

        Measured with plotly 7.1 + anywidget 0.11 in JupyterLab 4.6: updates
        sent to a FigureWidget before any view of it exists are not replayed
        correctly when it is first shown (traces come out mixed up). A fresh
        FigureWidget of the current picture avoids that.
        """
        if not self._shown and self.figure is not None:
            self._shown = True
            self._renew_figure()
        return super()._repr_mimebundle_(**kwargs)

    def _renew_figure(self) -> None:
        """Put a fresh FigureWidget of the current picture in place of the old one (first display, a new cluster
        size, or the page reporting an empty plot)."""
        if self.figure is None:
            return
        fresh = self._new_figure_widget()
        self.children = tuple(fresh if child is self.figure else child for child in self.children)
        self.figure.close()
        self.figure = fresh

    def _new_figure_widget(self) -> go.FigureWidget:
        """A FigureWidget of the current picture; what it shows is remembered so refresh() sends only changes."""
        self.picture.log_first = log_window(self.scene, self.picture.log_width, LOG_STEP)
        widget = go.FigureWidget(self.picture.figure(self.scene, legend=False))
        widget._config = {"displayModeBar": False}  # its zoom buttons are 5 more Tab stops (one unnamed) for fixed axes
        if getattr(self, "message", None) is not None and self.message.box_width >= 300:
            widget.layout.width = self.message.box_width
        self._sent = dict(zip(self.picture.dynamic_indices, self.picture.dynamic(self.scene)))
        return widget

    # ---- controls ------------------------------------------------------------

    def _controls(self) -> tuple[W.Widget, list[W.Widget]]:
        """The toolbar, then the panel tabs and the panels (only the chosen one shown)."""
        ids = self.cluster.ids
        self.play = W.Play(value=0, min=0, max=10**9, step=1, interval=self._tick_ms, show_repeat=False,
                           layout=W.Layout(display="none"))
        self.play.observe(self._on_tick, names="value")
        # Words, not icon fonts: an icon's glyph would become part of the button's name for screen readers.
        self.play_button = W.ToggleButton(value=False, description="Play", layout=W.Layout(width="6.5em"),
                                          tooltip="Play: let time run at the chosen speed (press again to pause)")
        self.play_button.observe(lambda ch: self.set_playing(ch["new"]), names="value")
        self.speed = W.Dropdown(options=[(_speed_label(v), v) for v in SPEEDS], value=0.1, description="speed",
                                layout=W.Layout(width="15em"), style={"description_width": "3.2em"},
                                tooltip="how fast play runs, compared with real time")
        for label, fn, tip in (
                ("Step back", self.step_back, "Step back: undo the last step or action (replays from the seed)"),
                ("Step", self.step, "Step: go to the next event that changes something, and say what it was"),
                ("Run 1 s", lambda: self.advance(1000, label="Run 1 s"), "Run 1 s: let one virtual second pass")):
            self.buttons[label] = _button(label, fn, tip)
        toolbar = W.HBox([self.play_button, self.buttons["Step back"], self.buttons["Step"], self.buttons["Run 1 s"],
                          self.speed, self.play], layout=W.Layout(flex_flow="row wrap", align_items="center"))

        self._columns: dict[int, W.VBox] = {}
        servers = W.HBox(self._server_columns(ids), layout=W.Layout(flex_flow="row wrap"))

        self.preset = W.Dropdown(options=PRESETS, value=PRESETS[0], description="partition",
                                 layout=W.Layout(width="17em"), style={"description_width": "4.5em"})
        self.preset_node = W.Dropdown(options=[(node_name(i), i) for i in ids], value=ids[0], description="node",
                                      layout=W.Layout(width="8em"), style={"description_width": "2.6em"})
        self.groups = W.Text(value="", placeholder="free grouping, e.g. 1,2 | 3,4,5", layout=W.Layout(width="19em"))
        self.buttons["Apply preset"] = _button("Apply preset", self.apply_preset,
                                               "Apply preset: heal, then cut the network as the preset says")
        self.buttons["Partition"] = _button("Partition", self.apply_groups, "Partition: split the network into the groups typed")
        self.buttons["Heal"] = _button("Heal", lambda: self.act_all([("heal", (), {})], label="Heal"),
                                       "Heal: remove every partition and cut")
        net = self.cluster.net
        # Readouts with their unit beside the sliders (a slider's own readout cannot carry one), written from the
        # same network state the picture draws (refresh).
        self.drop_rate = W.FloatSlider(value=net.drop_rate, min=0.0, max=0.5, step=0.05, description="drop rate",
                                       readout=False, continuous_update=False, layout=W.Layout(width="15em"),
                                       style={"description_width": "4.8em"})
        self.delay = W.IntRangeSlider(value=net.delay, min=0, max=200, step=1, description="delay",
                                      readout=False, continuous_update=False, layout=W.Layout(width="17em"),
                                      style={"description_width": "3em"})
        self.drop_readout, self.delay_readout = (W.HTML(layout=W.Layout(width=w, margin="0 1em 0 0")) for w in ("7em", "8em"))
        self.drop_rate.observe(lambda ch: self._syncing or self.act_all(
            [("set_network", (), {"drop_rate": ch["new"]})], label=f"drop rate {round(ch['new'] * 100)} %"), names="value")
        self.delay.observe(lambda ch: self._syncing or self.act_all(
            [("set_network", (), {"delay": tuple(ch["new"])})], label=f"delay {ch['new'][0]}–{ch['new'][1]} ms"),
            names="value")
        network = W.VBox([
            W.HBox([self.preset, self.preset_node, self.buttons["Apply preset"], self.buttons["Heal"]]),
            W.HBox([self.groups, self.buttons["Partition"]]),
            W.HBox([self.drop_rate, self.drop_readout, self.delay, self.delay_readout],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
        ])
        self.command = W.Text(value="x=1", description="command", layout=W.Layout(width="16em"))
        self.buttons["Client request"] = _button("Client request", self.client_request,
                                                 "Client request: send the command to the leader", "9em")
        client = W.HBox([self.command, self.buttons["Client request"]])
        etcd = self._etcd_panel(ids)
        key = W.HTML(legend_html(), layout=W.Layout(width="100%"))
        key.add_class("raftedu-key")
        self.event_log.add_class("raftedu-event-log")
        self.preset.add_class("raftedu-preset")
        self.groups.add_class("raftedu-groups")
        self.drop_rate.add_class("raftedu-drop-rate")
        self.delay.add_class("raftedu-delay")
        self.speed.add_class("raftedu-speed")
        self.member.add_class("raftedu-member")
        self.panels = dict(zip(PANELS, (servers, network, client, etcd, self.event_log, key)))
        # No panel scrolls or clips: each is laid out to show all it has within ~140 px, what a 1280×720 screen
        # leaves under the figure (tests/browser/test_explorer_browser.py measures it).
        self.panel = W.ToggleButtons(options=PANELS, value=PANELS[0], style={"button_width": "auto"},
                                     tooltips=["crash, restart or time out a server", "partitions, cuts, loss and delay",
                                               "send a client request",
                                               "etcd's options: pre-vote, check-quorum, leadership transfer, learners",
                                               "every event in words, newest first",
                                               "what each colour and symbol means"])
        self.panel.observe(lambda ch: self._show_panel(ch["new"]), names="value")
        self._show_panel(PANELS[0])
        return toolbar, [self.panel, *self.panels.values()]

    def _server_columns(self, ids: tuple[int, ...] | list[int]) -> list[W.Widget]:
        """One column of Crash / Restart / Time out buttons per server (a server's column is made once and kept: new
        widgets are what makes Add server slow to draw)."""
        columns = []
        for i in ids:
            if i in self._columns:
                columns.append(self._columns[i])
                continue
            col = []
            for verb, fn, tip in (("Crash", self.crash, "stop this server (its term, vote and log survive)"),
                                  ("Restart", self.restart, "bring this crashed server back as a follower"),
                                  ("Time out", self.timeout_now, "make its election timer run out now")):
                label = f"{verb} {node_name(i)}"
                self.buttons[label] = _button(label, lambda fn=fn, i=i: fn(i), f"{label}: {tip}", "8.6em")
                col.append(self.buttons[label])
            self._columns[i] = W.VBox(col)
            columns.append(self._columns[i])
        return columns

    def _etcd_panel(self, ids: tuple[int, ...] | list[int]) -> W.Widget:
        """etcd's options and operations: pre-vote, check-quorum, move-leader, member add/promote/remove."""
        self.pre_vote = W.Checkbox(value=self._config["pre_vote"], description="pre-vote", indent=False,
                                   layout=W.Layout(width="11em"),
                                   tooltip="pre-vote: a server asks whether it could win before it raises its term "
                                           "(dissertation §9.6)")
        self.check_quorum = W.Checkbox(value=self._config["check_quorum"], description="check-quorum",
                                       indent=False, layout=W.Layout(width="13em"),
                                       tooltip="check-quorum: a leader that hears from no majority for an election "
                                               "timeout steps down (dissertation §6.2); with it, a follower that "
                                               "heard from a leader ignores RequestVote (dissertation §4.2.3)")
        for box in (self.pre_vote, self.check_quorum):
            box.observe(lambda ch: self._syncing or self.set_options(pre_vote=self.pre_vote.value,
                                                                     check_quorum=self.check_quorum.value),
                        names="value")
        self.member = W.Dropdown(options=[(node_name(i), i) for i in ids], value=ids[-1], description="server",
                                 layout=W.Layout(width="9em"), style={"description_width": "3.2em"})
        for label, name, tip in (
                ("Transfer leadership", "transfer_leadership",
                 "Transfer leadership: the leader brings the chosen server up to date and tells it to start an "
                 "election now (dissertation §3.10, etcdctl move-leader)"),
                ("Add server", "add_server",
                 "Add server: start a new, empty server and add it as a learner (dissertation §4.2.1, "
                 "etcdctl member add --learner)"),
                ("Promote", "promote", "Promote: make the chosen learner a voter once it has caught up "
                                       "(etcdctl member promote)"),
                ("Remove", "remove_server", "Remove: take the chosen server out of the cluster (dissertation §4.1, "
                                            "etcdctl member remove)"),
                ("Snapshot", "snapshot",
                 "Snapshot: the chosen server saves its state machine and discards the log entries it covers "
                 "(dissertation ch. 5); a follower left further behind then gets InstallSnapshot")):
            self.buttons[label] = _button(label, lambda label=label, name=name: self._on_chosen(label, name), tip)
        return W.VBox([
            W.HBox([self.pre_vote, self.check_quorum], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.member, self.buttons["Transfer leadership"], self.buttons["Promote"], self.buttons["Remove"],
                    self.buttons["Add server"], self.buttons["Snapshot"]], layout=W.Layout(flex_flow="row wrap")),
        ])

    def _on_chosen(self, label: str, name: str) -> bool:
        """Do ``cluster.<name>`` for the server chosen in the etcd panel (Add server takes none)."""
        if name == "add_server":
            if self.cluster.n >= MAX_SERVERS:
                self.refresh(error=f"{label} refused: the explorer draws at most {MAX_SERVERS} servers")
                return False
            return self.act_all([(name, (), {})], label=label)
        chosen = self.member.value
        label = f"{label} to {node_name(chosen)}" if name == "transfer_leadership" else f"{label} {node_name(chosen)}"
        return self.act_all([(name, (chosen,), {})], label=label)

    def set_options(self, *, pre_vote: bool, check_quorum: bool) -> bool:
        """Run the same experiment again with etcd's options changed: from the seed, every action at its time.

        The contrast is the lesson: the same crashes and partitions, with and
        without pre-vote or check-quorum. An action that is refused in the new
        run (e.g. a partition preset that named the old leader) ends the replay there, and the message says so.
        """
        old = {k: self._config[k] for k in ("pre_vote", "check_quorum")}
        self._config.update(pre_vote=bool(pre_vote), check_quorum=bool(check_quorum))
        fresh = StepCountingCluster(**self._config)
        try:
            kept, why = fresh.replay_by_time(self.actions, self.cluster.now)
        except SafetyViolation as err:
            self._config.update(old)
            self._adopt(self.cluster, self.actions)  # the checkboxes go back to what the cluster runs
            self.refresh(error=f"safety check failed replaying with the new options: {err}")
            return False
        on = [name for name, flag in (("pre-vote", pre_vote), ("check-quorum", check_quorum)) if flag]
        self._adopt(fresh, kept)
        self.refresh(info=f"<b>Options</b> → {html.escape(' and '.join(on) or 'none (Figure 2 exactly)')}: "
                          f"the same run again from seed {self._config['seed']}, every action at its time, now "
                          f"t = {fresh.now} ms"
                          + (f". {html.escape(why, quote=False)}" if why else ""), raw=True)
        return True

    def _adopt(self, fresh: StepCountingCluster, actions: list[Action], same_run: bool = False) -> None:
        """Make ``fresh`` (a replay) the explorer's cluster; the controls show its settings without acting.

        ``same_run``: ``fresh`` is an earlier moment of the run shown (Step back): the checkpoints and scene copies
        up to that moment stay; the later ones go (what is done next may differ). Else (other options) all go.
        """
        if not same_run:
            self._checkpoints, self._scenes = [], []
        self._checkpoints = [k for k in self._checkpoints if k.cluster.steps <= fresh.steps and k.actions <= len(actions)]
        self._scenes = [v for v in self._scenes if v.events_seen <= len(fresh.trace)]
        self.cluster, self.actions = fresh, actions
        fresh.on_step = self._keep_checkpoint
        self.scene = copy.deepcopy(self._scenes[-1]) if self._scenes else SceneView()
        self._syncing = True
        self.drop_rate.value, self.delay.value = fresh.net.drop_rate, fresh.net.delay
        self.pre_vote.value, self.check_quorum.value = self._config["pre_vote"], self._config["check_quorum"]
        self._syncing = False

    def _keep_checkpoint(self, cluster: StepCountingCluster, before: Action | None = None) -> None:
        """Keep a checkpoint of the cluster as it is now (right after a step, or ``before`` an action), for Step back."""
        self._checkpoints.append(_Checkpoint(cluster.checkpoint(), len(self.actions), before))
        if len(self._checkpoints) > MAX_CHECKPOINTS:
            del self._checkpoints[: MAX_CHECKPOINTS // 2 : 2]

    def _fit_size(self) -> Callable[[], None] | None:
        """Servers joined or the replay has fewer: a picture and server buttons for the servers there are. Returns
        what puts those buttons and the server choices on the page: to call after the figure's redraw, so the
        browser draws the picture first (None: the size did not change)."""
        ids = self.cluster.ids
        if self.picture.n == len(ids):
            return None
        p = self.picture  # the same layout (made for up to MAX_SERVERS): the redraw changes only traces
        self.picture = ClusterPicture(len(ids), election_timeout_high=p.timeout_high, log_width=p.log_width,
                                      theme=p.theme, max_n=p.max_n, seed=p.seed)
        columns = self._server_columns(ids)

        def show() -> None:
            self.panels["Servers"].children = columns
            choices = [(node_name(i), i) for i in ids]
            self.preset_node.options, self.member.options = choices, choices
            self.member.value = ids[-1]  # the newest server: the one to promote after adding it
        return show

    def _show_panel(self, name: str) -> None:
        for key, widget in self.panels.items():
            widget.layout.display = "flex" if key == name else "none"

    # ---- time: play, step, step back -----------------------------------------------

    def set_playing(self, playing: bool) -> None:
        """Start or pause play (pausing changes nothing else: the picture stays where it is)."""
        self.play_button.value = playing
        self.play_button.description = "Pause" if playing else "Play"
        self.play.playing = playing
        if playing:
            self.message.value = (f"<b>Play</b> → time runs at {_speed_label(self.speed.value)} "
                                  f"(an election takes a few seconds to watch). Press Pause to stop.")
        else:
            self.message.value = f"<b>Pause</b> → stopped at t = {self.cluster.now} ms."

    def _on_tick(self, change: dict[str, Any]) -> None:
        """One play tick: only a forward tick advances (a widget reset to 0 must not move the cluster)."""
        if change["new"] <= change["old"] or not self.play.playing:
            return  # a reset, or a tick that was on its way when Pause was pressed
        self._owed += self.speed.value * self._tick_ms
        ms = int(self._owed)
        self._owed -= ms
        self.advance(ms, label="")

    def step(self) -> list[Any]:
        """Go to the next event that changes something (skipping reset timers), redraw, say what it was."""
        before = len(self.cluster.trace)
        try:
            for _ in range(MAX_STEP_SKIP):
                if self.cluster.step():
                    break
            else:
                self.refresh(error=f"Step: nothing changed in {MAX_STEP_SKIP} events")
                return []
        except SafetyViolation as err:
            self._stop_play()
            self.refresh(error=f"safety check failed: {err}")
            return []
        events = self.cluster.trace.events[before:]
        self.refresh(info=f"<b>Step</b> → t = {self.cluster.now} ms: {html.escape(describe_events(events), quote=False)}",
                     raw=True)
        return events

    def advance(self, ms: int, label: str = "Run") -> None:
        """Let ``ms`` virtual milliseconds pass (what play does on every tick), then redraw.

        ``label`` names the click in the explanation (empty: a play tick, which
        only reports a new sentence when there is one).
        """
        before, start = len(self.cluster.trace), self.cluster.now
        try:
            self.cluster.run(ms)
        except SafetyViolation as err:
            self._stop_play()
            self.refresh(error=f"safety check failed: {err}")
            return
        said = [e.text for e in self.cluster.trace.events[before:] if e.text and e.text != "duplicate"]
        if label:
            newest = "; ".join(said[-3:]) if said else "only heartbeats and timers"
            info = (f"<b>{html.escape(label)}</b> → t = {start} → {self.cluster.now} ms, {len(said)} notable "
                    f"event{'s' if len(said) != 1 else ''}; latest: {html.escape(newest, quote=False)}")
            self.refresh(info=info, raw=True)
        elif said:
            self.refresh(info=f"<b>Play</b> ▶ t = {self.cluster.now} ms: {html.escape(said[-1], quote=False)}", raw=True)
        else:
            self.refresh(keep_message=True)

    def _stop_play(self) -> None:
        self.play.playing = False
        self.play_button.value = False

    def step_back(self) -> bool:
        """Undo exactly one step or action by replaying from the newest checkpoint before it (or the seed); False
        (and a message) at the start.

        The newest of the two is undone: the last action if nothing visible
        happened after it, else the last step that changed something (the
        cluster goes back to just after the visible step before it).
        """
        c = self.cluster
        last_visible = c.visible[-1] if c.visible else 0
        undone: Action | None = None
        if self.actions and self.actions[-1].steps >= last_visible:
            keep, target, undone = self.actions[:-1], self.actions[-1].steps, self.actions[-1]
        elif c.visible:
            target = max(c.visible[-2] if len(c.visible) > 1 else 0, self.actions[-1].steps if self.actions else 0)
            keep = self.actions
        else:
            self.refresh(error="Step back: already at the start, nothing to undo")
            return False
        start = next((k for k in reversed(self._checkpoints) if k.serves(keep, target, undone)), None)
        fresh = start.cluster.resume(c.trace) if start is not None else StepCountingCluster(**self._config)
        fresh.replay(keep[start.actions:] if start is not None else keep, target)
        if undone is not None and undone.now > fresh.now:  # back to the moment of the undone action
            fresh.run(undone.now - fresh.now)
        gone = c.trace.events[len(fresh.trace):]
        self._adopt(fresh, keep, same_run=True)  # the sliders show the replayed network again, without acting on it
        what = (f"undid {undone.name}({', '.join(map(repr, undone.args + tuple(v for _k, v in undone.kwargs)))})"
                if undone is not None else f"undid: {describe_events(gone)}")
        origin = (f"the checkpoint at t = {start.cluster.now} ms of this run (seed {self._config['seed']})"
                  if start is not None else f"seed {self._config['seed']}")
        self.refresh(info=f"<b>Step back</b> → t = {fresh.now} ms; {html.escape(what, quote=False)} "
                          f"(replayed from {origin})", raw=True)
        return True

    # ---- actions: each one cluster call, then a redraw ---------------------------

    def act(self, name: str, *args: Any, **kwargs: Any) -> bool:
        """Do ``cluster.<name>(*args, **kwargs)``, record it for replay and redraw; a refusal is shown, not raised."""
        return self.act_all([(name, args, kwargs)])

    def act_all(self, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]], label: str = "") -> bool:
        """Do several cluster calls in order with one redraw at the end; stop at the first refusal and show it.

        ``label`` names the click in the explanation (default: the first call).
        """
        label = label or " ".join([calls[0][0].replace("_", " "), *map(str, calls[0][1])]) if calls else label
        before = len(self.cluster.trace)
        error = ""
        for k, (name, args, kwargs) in enumerate(calls):
            action = Action(self.cluster.steps, self.cluster.now, name, tuple(args), tuple(sorted(kwargs.items())))
            newest = self._checkpoints[-1].cluster.steps if self._checkpoints else -CHECKPOINT_STEPS
            if k == 0 and self.cluster.steps - newest >= CHECKPOINT_NEAR:  # undoing these actions (one per Step
                self._keep_checkpoint(self.cluster, before=action)  # back) replays at most the others from here
            try:
                action.apply(self.cluster)
            except (ValueError, SafetyViolation) as err:
                error = str(err) if isinstance(err, ValueError) else f"safety check failed: {err}"
                break
            self.actions.append(action)
        if error:
            self.refresh(error=f"{label} refused: {error}")
            return False
        said = [e.text for e in self.cluster.trace.events[before:] if e.text]
        if len(said) > 4:
            said = said[:2] + [f"… {len(said) - 3} more …", said[-1]]
        self.refresh(info=f"<b>{html.escape(label)}</b> → {html.escape('; '.join(said), quote=False)}"
                          f"{self._network_note(calls)}", raw=True)
        return True

    def _network_note(self, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> str:
        """Where a network change shows in the picture (so no slider seems to do nothing)."""
        if not any(name in ("set_network", "partition", "isolate", "cut", "heal") for name, _a, _k in calls):
            return ""
        where = {"set_network": "links dotted and a ⚠ badge while messages are dropped; lost messages marked ✕; "
                                "delay = how long messages take along the links",
                 "heal": "every link solid again"}
        hint = next((where[name] for name, _a, _k in calls if name in where),
                    "blocked links dashed in vermillion (orange-red); a link cut one way only is dashed half-way")
        return f". Picture: {hint}. Now {html.escape(network_line(self._synced_scene()), quote=False)}."

    def _synced_scene(self) -> SceneView:
        self._sync_scene()
        return self.scene

    def crash(self, i: int) -> bool:
        """Crash server ``i``."""
        return self.act_all([("crash", (i,), {})], label=f"Crash {node_name(i)}")

    def restart(self, i: int) -> bool:
        """Restart crashed server ``i``."""
        return self.act_all([("restart", (i,), {})], label=f"Restart {node_name(i)}")

    def timeout_now(self, i: int) -> bool:
        """Make server ``i``'s election timer run out now."""
        return self.act_all([("timeout_now", (i,), {})], label=f"Time out {node_name(i)}")

    def client_request(self) -> bool:
        """Send the command in the text box to the leader (rejected, in words, when there is none)."""
        return self.act_all([("request", (self.command.value,), {})], label=f"Client request {self.command.value!r}")

    def apply_preset(self) -> bool:
        """Heal, then make the partition chosen in the preset dropdown."""
        label = f"Apply preset '{self.preset.value}'"
        try:
            calls = preset_actions(self.preset.value, self.cluster.n, self.preset_node.value, self.cluster.leader())
        except ValueError as err:
            self.refresh(error=f"{label} refused: {err}")
            return False
        heal = [("heal", (), {})] if self.cluster.groups or self.cluster.cuts else []
        return self.act_all(heal + [(name, args, {}) for name, args in calls], label=label)

    def apply_groups(self) -> bool:
        """Partition the network into the groups typed in the text box (link cuts stay until Heal)."""
        try:
            groups = parse_groups(self.groups.value, self.cluster.n)
        except ValueError as err:
            self.refresh(error=f"Partition refused: {err}")
            return False
        return self.act_all([("partition", tuple(groups), {})], label="Partition")

    # ---- drawing --------------------------------------------------------------------

    def _sync_scene(self) -> None:
        for e in self.cluster.trace.events[self.scene.events_seen :]:
            self.scene.apply(e)
        self.scene.time = self.cluster.now
        if self.scene.events_seen >= (self._scenes[-1].events_seen if self._scenes else 0) + SCENE_COPY_EVENTS:
            self._scenes.append(copy.deepcopy(self.scene))  # Step back starts its scene here (_adopt)
            if len(self._scenes) > MAX_CHECKPOINTS:
                del self._scenes[: MAX_CHECKPOINTS // 2 : 2]

    def _fit_width(self, width: int) -> None:
        """The page told the explorer's width: give the figure that width (plotly's own autosize misses it)."""
        if self.figure is not None and width >= 300 and abs((self.figure.layout.width or 0) - width) > 4:
            self.figure.layout.width = width

    def _follow_page_theme(self, page_theme: str) -> None:
        """The page told its JupyterLab theme: redraw in it (unless a theme was chosen)."""
        if self._theme_choice == "auto" and page_theme in THEMES and page_theme != self.picture.theme:
            self.set_theme(page_theme)

    def set_theme(self, theme: str) -> None:
        """Draw the figure for JupyterLab's ``"light"`` or ``"dark"`` theme from now on."""
        if theme not in THEMES:
            raise ValueError(f"unknown theme {theme!r}; choose one of: {', '.join(THEMES)}")
        self.picture.theme = theme
        self._sync_scene()
        if self.figure is None:
            self.refresh(keep_message=True)
            return
        self._redraw_in_place()

    def _redraw_in_place(self) -> None:
        """Redraw the FigureWidget already on the page in the picture's theme: the template and every trace (the
        legend entries too), in one batch; much cheaper for the browser than a new FigureWidget."""
        assert self.figure is not None
        self.picture.log_first = log_window(self.scene, self.picture.log_width, LOG_STEP)
        fresh = self.picture.figure(self.scene, legend=False, validate=False).to_plotly_json()
        with self.figure.batch_update():  # the template alone is a large message: only here
            self.figure.layout.template = fresh["layout"]["template"]
            for index, trace in enumerate(fresh["data"]):
                self.figure.data[index].update(trace)
        self._sent = dict(zip(self.picture.dynamic_indices, self.picture.dynamic(self.scene)))

    def refresh(self, *, error: str = "", info: str = "", raw: bool = False, keep_message: bool = False) -> None:
        """Bring the picture, the buttons, the explanation and the event log up to date with the cluster.

        ``error`` (plain text) is shown as a refusal; ``info`` explains the
        click (HTML when ``raw``); ``keep_message`` leaves the explanation as it is.
        """
        self._sync_scene()
        controls = self._fit_size()
        scene, picture = self.scene, self.picture
        picture.log_first = log_window(scene, picture.log_width, LOG_STEP)
        # Words and buttons first: they are cheap for the browser, the figure is not.
        for i in self.cluster.ids:
            node = scene.nodes[i]
            self.buttons[f"Crash {node_name(i)}"].disabled = not node.alive
            self.buttons[f"Restart {node_name(i)}"].disabled = node.alive or node.removed
            self.buttons[f"Time out {node_name(i)}"].disabled = not node.alive or node.role == "leader"
        self.buttons["Step back"].disabled = self.cluster.steps == 0 and not self.actions
        if error:
            self.message.value = f'<b style="color:#b00020">⚠ {html.escape(error, quote=False)}</b>'
        elif not keep_message:
            self.message.value = info if raw else html.escape(info, quote=False)
        self.event_log.value = self._log_html()
        net = getattr(scene, "network", {}) or {}
        low, high = net.get("delay", (0, 0))
        self.drop_readout.value = f"{float(net.get('drop_rate', 0.0)) * 100:.0f} % lost"
        self.delay_readout.value = f"{low}–{high} ms" if low != high else f"{low} ms"
        if self.figure is not None:  # the layout is the same for every state: only traces change (issue 29)
            changed = {i: t for i, t in zip(picture.dynamic_indices, picture.dynamic(scene)) if self._sent.get(i) != t}
            if _can_redraw_traces_only(self.figure):
                self._redraw_traces(changed)
            else:
                with self.figure.batch_update():  # only what changed: each restyled trace costs the browser time
                    for index, trace in changed.items():
                        self.figure.data[index].update({k: v for k, v in trace.items() if k != "type"})
                        self._sent[index] = trace
        else:
            figure = picture.figure(scene)
            bundle = {"application/vnd.plotly.v1+json": json.loads(figure.to_json()),
                      "text/plain": f"{status_line(scene)}\n{network_line(scene)}"}
            self._static.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)
        if controls is not None:
            controls()

    def _redraw_traces(self, changed: dict[int, dict[str, Any]]) -> None:
        """Send only trace changes as one plotly.js ``animate`` without redraw (nothing in the layout changed).

        ``Plotly.update`` of any point or text replots the whole figure (axes, shapes, every trace); a no-redraw
        animate replots only the traces it names (measured in chromium: 2-3x less time per click). The traces it names
        are redrawn in the order given, so for each subplot it names every dynamic trace from the first changed one
        on: a contiguous run keeps the drawing order (links under servers under messages). A subplot none of whose
        named traces has a point loses all its traces (plotly.js removes its trace layer; seen in chromium: the log
        panel emptied when a crash emptied the leader's marks), so each run reaches back to a trace with a point.
        """
        assert self.figure is not None
        if not changed:
            return
        fig, named = self.figure, []
        drawn = {i: any(v is not None for v in changed.get(i, self._sent[i]).get("x", ())) for i in self._sent}
        for group in self._subplot_runs():
            start = next((k for k, i in enumerate(group) if i in changed), len(group) - 1)
            while start > 0 and not any(drawn[i] for i in group[start:]):
                start -= 1
            named += group[start:]
        fig._in_batch_mode = True
        try:  # the traces' new values as they are, no per-property validation (the picture's own, already valid
            for index in named:  # when the FigureWidget was made: validation took ~20 ms of an Add server click)
                edits = fig._batch_trace_edits.setdefault(index, {})  # named, even if unchanged: see above
                if index in changed:
                    edits.update(_flat({k: v for k, v in changed[index].items() if k != "type"}))
                    self._sent[index] = changed[index]
        finally:
            fig._in_batch_mode = False
        fig._perform_batch_animate(_NO_REDRAW)

    def _subplot_runs(self) -> list[list[int]]:
        """The dynamic trace indices of each subplot (the ring's, the log panel's), in drawing order."""
        runs: dict[str, list[int]] = {}
        for index in self.picture.dynamic_indices:
            runs.setdefault(self._sent[index].get("xaxis", "x"), []).append(index)
        return list(runs.values())

    def _log_html(self) -> str:
        lines = []
        for e in reversed(self.cluster.trace.events):
            if e.text and e.text != "duplicate":
                lines.append(f"<div><code>{e.time:>6} ms</code> {html.escape(e.text, quote=False)}</div>")
                if len(lines) == LOG_LINES:
                    break
        return ('<div style="font-size:12px;line-height:1.3"><b>What happened</b> (newest first; '
                "<code>explorer.recent(20)</code> lists more)" + "".join(lines) + "</div>")

    def recent(self, k: int = LOG_LINES) -> list[str]:
        """The sentences of the ``k`` newest events that have one, newest first (what the log shows)."""
        return [e.text for e in reversed(self.cluster.trace.events) if e.text and e.text != "duplicate"][:k]
