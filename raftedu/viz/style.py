"""Colours, symbols and names shared by every raftedu picture, so a student learns them once."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from ..raft import (AppendEntries, AppendEntriesReply, InstallSnapshot, InstallSnapshotReply, Message, PreVote,
                    PreVoteReply, RequestVote, RequestVoteReply, TimeoutNow)

__all__ = [
    "OKABE_ITO",
    "ROLE_COLORS",
    "ROLE_SYMBOLS",
    "ROLE_TEXT",
    "ROLE_LABELS",
    "ELECTION_COLOR",
    "REPLICATION_COLOR",
    "REFUSED_SYMBOLS",
    "OPEN_LINE_WIDTH",
    "MEANINGFUL_COLORS",
    "term_text_color",
    "MESSAGE_STYLES",
    "DROP_COLOR",
    "CUT_COLOR",
    "REFUSED_COLOR",
    "message_ok",
    "term_color",
    "term_slot",
    "TERM_COLORSCALE",
    "message_kind",
    "DRAWN_AS",
    "describe_message",
    "node_name",
    "THEMES",
    "check_theme",
    "template",
    "COURSE_COLORWAY",
    "PAGE_THEME_CSS",
    "follow_page_theme",
    "ink",
]

OKABE_ITO: dict[str, str] = {
    "orange": "rgb(230, 159, 0)",
    "sky blue": "rgb(86, 180, 233)",
    "bluish green": "rgb(0, 158, 115)",
    "yellow": "rgb(240, 228, 66)",
    "blue": "rgb(0, 114, 178)",
    "vermillion": "rgb(213, 94, 0)",
    "reddish purple": "rgb(204, 121, 167)",
    "black": "rgb(0, 0, 0)",
    "grey": "rgb(153, 153, 153)",
}
"""Okabe & Ito's "Color Universal Design" palette (2008): told apart with every common colour-vision deficiency.
The colours below are taken from it, some made lighter or darker so that every pair that carries meaning stays
at least 20 apart (CIEDE2000) for normal vision and simulated protanopia, deuteranopia and tritanopia
(tests/test_colours.py checks it)."""

ROLE_COLORS: dict[str, str] = {
    "follower": "rgb(125, 197, 239)",  # sky blue, lighter
    "candidate": OKABE_ITO["orange"],
    "leader": "rgb(0, 80, 125)",  # blue, darker
    "crashed": "rgb(130, 130, 130)",
}
"""Fill colour of a node per role, written as ``rgb(r, g, b)`` -- the form a browser reports back.
Never colour alone: the label beside each server names its role, the leader has a bold ring and a
crashed server is a grey octagon (:data:`ROLE_SYMBOLS`)."""

ROLE_SYMBOLS: dict[str, tuple[str, float]] = {
    "follower": ("circle", 2),
    "candidate": ("circle", 2),
    "leader": ("circle", 5),
    "crashed": ("octagon", 2),
}
"""Marker symbol and outline width of a server per role: the leader's ring is bold, a crashed server is an octagon
(a stop sign). Not a crossed circle: the cross ran through the server's name ("S3" read "S8")."""

LEARNER_SYMBOL = "hexagon"
"""A learner (a server that receives the log but does not vote, dissertation §4.2.1) is a hexagon, not a circle, and
its label says "learner"."""

ROLE_TEXT: dict[str, str] = {
    "follower": "rgb(20, 20, 20)",
    "candidate": "rgb(20, 20, 20)",
    "leader": "white",
    "crashed": "white",
}
"""Colour of the server's name on its fill: dark on light fills, white on dark ones."""

ROLE_LABELS: dict[str, str] = {
    "follower": "follower (waits for a leader)",
    "candidate": "candidate (asking for votes)",
    "leader": "leader (bold ring; sends heartbeats)",
    "crashed": "crashed (octagon, a stop sign)",
}
"""Legend text per role: the colour and what it means."""

ELECTION_COLOR = OKABE_ITO["orange"]
"""Messages of an election (RequestVote, a granted vote): the candidate's colour."""
REPLICATION_COLOR = OKABE_ITO["blue"]
"""Messages of log replication (AppendEntries, heartbeats, successful replies): the leader's job."""

# Message kinds in drawing order: (legend name, marker symbol, colour, size).
MESSAGE_STYLES: dict[str, tuple[str, str, str, int]] = {
    "RequestVote": ("RequestVote", "diamond", ELECTION_COLOR, 13),
    "PreVote": ("PreVote (would you vote?)", "diamond-open", ELECTION_COLOR, 13),
    "TimeoutNow": ("TimeoutNow (campaign now)", "star", ELECTION_COLOR, 15),
    "RequestVoteReply": ("vote reply (● granted, ⊗ refused)", "circle", ELECTION_COLOR, 11),
    "AppendEntries": ("AppendEntries with entries", "square", REPLICATION_COLOR, 13),
    "InstallSnapshot": ("InstallSnapshot (ch. 5: a snapshot)", "pentagon", REPLICATION_COLOR, 14),
    "Heartbeat": ("heartbeat (empty AppendEntries)", "square-open", REPLICATION_COLOR, 11),
    "AppendEntriesReply": ("AppendEntries reply (▲ ok, ▼ rejected)", "triangle-up", REPLICATION_COLOR, 11),
}
"""How each kind of message is drawn: legend name, marker symbol, colour, size. Colour says which job
(election orange, replication blue), the shape which message: etcd's PreVote, TimeoutNow and InstallSnapshot each
have their own shape (their replies are drawn as the vote reply and the AppendEntries reply they resemble)."""

OPEN_LINE_WIDTH = 2
"""Stroke width of an open (hollow) message marker: a 1 px blue □ nearly vanished on the dark page."""

REFUSED_SYMBOLS: dict[str, str] = {"RequestVoteReply": "circle-x-open", "AppendEntriesReply": "triangle-down"}
"""A refused vote is drawn ⊗, a rejected AppendEntries reply ▼: never told by colour alone."""

REFUSED_NAMES: dict[str, str] = {"RequestVoteReply": "vote reply refused (⊗, dashed)",
                                 "AppendEntriesReply": "AppendEntries reply rejected (▼, dashed)"}
"""Legend names of refused votes and rejected replies where they are drawn apart (the timeline's arrows)."""

REFUSED_COLOR = "rgb(40, 40, 40)"
"""Colour of a refused vote or rejected reply on a light page (:func:`ink` ``"outline"``; light on a dark page)."""
DROP_COLOR = OKABE_ITO["vermillion"]
"""Colour of the ✕ that marks a dropped message (and of the links of a lossy network, dotted)."""
CUT_COLOR = OKABE_ITO["vermillion"]
"""Colour of a link that the partition or a cut blocks (drawn dashed; hover names it)."""

_TERM_PALETTE = (  # viridis from 0.25 to 1: each later term lighter, whatever the colour vision
    "rgb(59, 81, 138)", "rgb(49, 104, 142)", "rgb(41, 123, 142)", "rgb(34, 144, 140)", "rgb(36, 164, 133)",
    "rgb(53, 183, 121)", "rgb(96, 200, 96)", "rgb(146, 214, 65)", "rgb(199, 224, 42)", "rgb(253, 231, 37)",
)
_TERM_TEXT = ("white",) * 5 + ("black",) * 5
"""The term number's colour on each term colour: white on the dark half, black on the light half."""


def term_text_color(term: int) -> str:
    """The colour the term number is written in on a log cell of ``term`` (readable on its fill)."""
    return _TERM_TEXT[term_slot(term) - 1]


def term_color(term: int) -> str:
    """The colour of log cells written in ``term``: ten ordered colours (viridis, dark to light), repeating."""
    return _TERM_PALETTE[term_slot(term) - 1]


def term_slot(term: int) -> int:
    """The number 1..10 that :data:`TERM_COLORSCALE` turns into ``term_color(term)`` (short in JSON frames)."""
    return (term - 1) % len(_TERM_PALETTE) + 1


TERM_COLORSCALE: list[list[float | str]] = [
    pair for k, color in enumerate(_TERM_PALETTE)
    for pair in ([k / len(_TERM_PALETTE), color], [(k + 1) / len(_TERM_PALETTE), color])
]
"""A stepped plotly colorscale: with ``cmin=0.5, cmax=10.5`` the value ``term_slot(t)`` shows ``term_color(t)``."""


def node_name(i: int) -> str:
    """How pictures name server ``i``: ``S1``, ``S2``, ... as in the Raft paper."""
    return f"S{i}"


DRAWN_AS: dict[str, str] = {"PreVoteReply": "RequestVoteReply", "InstallSnapshotReply": "AppendEntriesReply"}
"""The replies to etcd's messages (dissertation §9.6 pre-vote, ch. 5 InstallSnapshot) are drawn as the Figure 2 reply
doing the same job (a vote, a replication answer); their hover text names them."""


def message_kind(msg: Message) -> str:
    """The style key of ``msg``: its class name (etcd's messages: see :data:`DRAWN_AS`), or ``Heartbeat`` for an
    empty AppendEntries."""
    if isinstance(msg, AppendEntries) and not msg.entries:
        return "Heartbeat"
    name = type(msg).__name__
    return DRAWN_AS.get(name, name)


def message_ok(msg: Message) -> bool:
    """False for a refused vote or a rejected AppendEntries (drawn in red), True otherwise."""
    if isinstance(msg, (RequestVoteReply, PreVoteReply)):
        return msg.vote_granted
    if isinstance(msg, AppendEntriesReply):
        return msg.success
    if isinstance(msg, InstallSnapshotReply):
        return msg.match_index > 0  # 0: refused, its term was stale
    return True


def describe_message(msg: Message) -> str:
    """One line naming a message and its important fields, for hover text."""
    head = f"{type(msg).__name__} {node_name(msg.src)}→{node_name(msg.dst)}, term {msg.term}"
    match msg:
        case RequestVote():
            return f"{head}: vote for me? (my last log entry: index {msg.last_log_index}, term {msg.last_log_term})"
        case RequestVoteReply():
            return f"{head}: vote {'granted' if msg.vote_granted else 'refused'}"
        case AppendEntries() if not msg.entries:
            return f"{head}: heartbeat (prevLogIndex {msg.prev_log_index}, leaderCommit {msg.leader_commit})"
        case AppendEntries():
            last = msg.prev_log_index + len(msg.entries)
            return (f"{head}: {len(msg.entries)} entr{'y' if len(msg.entries) == 1 else 'ies'} "
                    f"(index {msg.prev_log_index + 1}–{last}), leaderCommit {msg.leader_commit}")
        case AppendEntriesReply() if msg.success:
            return f"{head}: success, matchIndex {msg.match_index}"
        case AppendEntriesReply():
            return f"{head}: rejected, retry from index {msg.conflict_index}"
        case PreVote():
            return f"{head}: could I win an election? (my last log entry: index {msg.last_log_index}, " \
                   f"term {msg.last_log_term})"
        case PreVoteReply():
            return f"{head}: {'would vote' if msg.vote_granted else 'would not vote'}"
        case TimeoutNow():
            return f"{head}: start an election now (leadership transfer)"
        case InstallSnapshot():
            return (f"{head}: snapshot of entries 1–{msg.last_included_index} (last term {msg.last_included_term}), "
                    f"{len(msg.snapshot.state)} commands")
        case InstallSnapshotReply():
            return f"{head}: " + (f"installed, matchIndex {msg.match_index}" if msg.match_index else "refused: stale term")
    return head


THEMES = ("light", "dark")
"""The page themes pictures can be drawn for: JupyterLab's light and dark."""

_TEMPLATES = {"light": "plotly_white", "dark": "plotly_dark"}
_INK = {  # (text, faint lines such as idle links, marker outlines) per theme
    "light": ("rgb(42, 63, 95)", "rgb(215, 215, 215)", "rgb(40, 40, 40)"),
    "dark": ("rgb(242, 245, 250)", "rgb(90, 90, 90)", "rgb(235, 235, 235)"),
}


def check_theme(theme: str) -> str:
    """``theme`` if it is one of :data:`THEMES`, else a ValueError saying which are allowed."""
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}; choose one of: {', '.join(THEMES)}")
    return theme


COURSE_COLORWAY = [OKABE_ITO[k] for k in ("blue", "orange", "bluish green", "reddish purple", "sky blue", "vermillion",
                                           "yellow", "grey")]
"""The colours of a figure's traces, in order, when a figure does not choose them: Okabe & Ito's palette."""


@cache
def _template_json(theme: str) -> dict[str, Any]:
    import plotly.io as pio

    out = pio.templates[_TEMPLATES[theme]].to_plotly_json()
    out["layout"]["colorway"] = list(COURSE_COLORWAY)
    return out


def template(theme: str = "light") -> dict[str, Any]:
    """The course's plotly template for ``theme``: ``plotly_white`` or ``plotly_dark`` with the colour-blind-safe
    :data:`COURSE_COLORWAY`, as plain data. Every course figure uses it; :data:`PAGE_THEME_CSS` redraws a light one
    dark when JupyterLab's theme is dark.

    Plain data, not a name: a template name is only resolved when a figure is
    validated, and the explorer's figures skip validation.
    """
    return copy.deepcopy(_template_json(check_theme(theme)))


def _dark(selector: str, rule: str) -> str:
    return f'body[data-jp-theme-light="false"] .jp-RenderedPlotly {selector} {{ {rule} !important; }}'


PAGE_THEME_CSS = "\n".join([
    # The lesson figures are static plotly JSON drawn by JupyterLab's plotly renderer, which knows no themes; their
    # light template's colours are written into the SVG as inline styles, so on a dark page they are swapped for
    # their dark counterparts (plotly_dark's and ink("dark", ...)). The live explorer is redrawn dark by the kernel.
    *(_dark(f'.main-svg[style*="background: {white}"]', "background: var(--jp-layout-color0, rgb(17, 17, 17))")
      for white in ("white", "rgb(255, 255, 255)")),
    *(_dark(f'rect[style*="fill: {white}"]', "fill: var(--jp-layout-color0, rgb(17, 17, 17))")
      for white in ("white", "rgb(255, 255, 255)")),
    _dark('[style*="fill: rgb(42, 63, 95)"]', f"fill: {_INK['dark'][0]}"),
    _dark('[style*="stroke: rgb(235, 240, 248)"]', "stroke: rgb(40, 52, 66)"),
    _dark('[style*="stroke: rgb(215, 215, 215)"]', f"stroke: {_INK['dark'][1]}"),
    _dark('[style*="stroke: rgb(40, 40, 40)"]', f"stroke: {_INK['dark'][2]}"),
    _dark('[style*="fill: rgb(40, 40, 40)"]', f"fill: {_INK['dark'][2]}"),
    _dark('[style*="stroke: rgb(68, 68, 68)"]', f"stroke: {_INK['dark'][2]}"),  # axis lines of the even/odd figures
])
"""CSS that makes the course's light figures dark on JupyterLab's dark theme (and changes nothing on a light page).
Shown once with every course figure by :func:`follow_page_theme`'s plotly renderer."""


def follow_page_theme() -> None:
    """Make every figure shown in this kernel follow JupyterLab's theme: plotly's renderers gain one that adds
    :data:`PAGE_THEME_CSS` (an invisible ``<style>`` output) after each figure, and the course template
    (``"raftedu"``: :func:`template`) becomes plotly's default. Called when :mod:`raftedu.viz` is imported."""
    import plotly.io as pio
    from plotly.io._base_renderers import ExternalRenderer

    class PageTheme(ExternalRenderer):
        """Adds the page-theme CSS after a figure (plotly calls it after the figure's own output)."""

        def render(self, fig: Any) -> None:
            try:
                from IPython.display import display
            except ImportError:  # pragma: no cover - plotly outside IPython
                return
            # HTML only, no text/plain: nothing for a reader of the cell's printed text to trip over
            display({"text/html": f"<style>{PAGE_THEME_CSS}</style>"}, raw=True)

    pio.templates["raftedu"] = template("light")
    pio.templates.default = "raftedu"
    pio.renderers["raftedu_page_theme"] = PageTheme()
    default = pio.renderers.default or ""
    if default and "raftedu_page_theme" not in default.split("+"):
        pio.renderers.default = default + "+raftedu_page_theme"


def ink(theme: str = "light", what: str = "text") -> str:
    """A neutral colour that reads on ``theme``'s background: ``text``, ``faint`` (idle links) or ``outline``."""
    return _INK[check_theme(theme)][("text", "faint", "outline").index(what)]


MEANINGFUL_COLORS: dict[str, dict[str, str]] = {
    "server roles": dict(ROLE_COLORS),
    "message jobs": {"election": ELECTION_COLOR, "replication": REPLICATION_COLOR},
    "vote reply (light page)": {"granted": ELECTION_COLOR, "refused": _INK["light"][2]},
    "vote reply (dark page)": {"granted": ELECTION_COLOR, "refused": _INK["dark"][2]},
    "AppendEntries reply (light page)": {"success": REPLICATION_COLOR, "rejected": _INK["light"][2]},
    "AppendEntries reply (dark page)": {"success": REPLICATION_COLOR, "rejected": _INK["dark"][2]},
    "links (light page)": {"idle link": _INK["light"][1], "blocked or lossy link": CUT_COLOR},
    "links (dark page)": {"idle link": _INK["dark"][1], "blocked or lossy link": CUT_COLOR},
}
"""Every set of colours whose members a student must tell apart, by meaning (tests/test_colours.py checks each
pair under simulated colour-vision deficiencies)."""
