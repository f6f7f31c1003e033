"""Colours, symbols and names shared by every raftedu picture, so a student learns them once."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from ..raft import AppendEntries, AppendEntriesReply, Message, RequestVote, RequestVoteReply

__all__ = [
    "ROLE_COLORS",
    "ROLE_LABELS",
    "MESSAGE_STYLES",
    "DROP_COLOR",
    "CUT_COLOR",
    "REFUSED_COLOR",
    "message_ok",
    "term_color",
    "term_slot",
    "TERM_COLORSCALE",
    "message_kind",
    "describe_message",
    "node_name",
    "THEMES",
    "check_theme",
    "template",
    "ink",
]

ROLE_COLORS: dict[str, str] = {
    "follower": "rgb(91, 141, 239)",
    "candidate": "rgb(245, 166, 35)",
    "leader": "rgb(44, 160, 44)",
    "crashed": "rgb(158, 158, 158)",
}
"""Fill colour of a node per role, written as ``rgb(r, g, b)`` -- the form a browser reports back."""

ROLE_LABELS: dict[str, str] = {
    "follower": "follower (waits for a leader)",
    "candidate": "candidate (asking for votes)",
    "leader": "leader (sends heartbeats)",
    "crashed": "crashed (down)",
}
"""Legend text per role: the colour and what it means."""

# Message kinds in drawing order: (legend name, marker symbol, colour, size).
MESSAGE_STYLES: dict[str, tuple[str, str, str, int]] = {
    "RequestVote": ("RequestVote", "diamond", "rgb(245, 166, 35)", 13),
    "RequestVoteReply": ("vote reply (green: granted, red: refused)", "circle", "rgb(44, 160, 44)", 10),
    "AppendEntries": ("AppendEntries with entries", "square", "rgb(148, 103, 189)", 13),
    "Heartbeat": ("heartbeat (empty AppendEntries)", "square-open", "rgb(44, 160, 44)", 10),
    "AppendEntriesReply": ("AppendEntries reply (red: rejected)", "triangle-up", "rgb(23, 190, 207)", 10),
}
"""How each kind of message is drawn: legend name, marker symbol, colour, size."""

REFUSED_COLOR = "rgb(214, 39, 40)"
DROP_COLOR = "rgb(214, 39, 40)"
"""Colour of the ✕ that marks a dropped message."""
CUT_COLOR = "rgb(214, 39, 40)"
"""Colour of a link that the partition or a cut blocks."""

_TERM_PALETTE = (
    "rgb(141, 211, 199)", "rgb(190, 186, 218)", "rgb(251, 128, 114)", "rgb(128, 177, 211)",
    "rgb(253, 180, 98)", "rgb(179, 222, 105)", "rgb(252, 205, 229)", "rgb(188, 128, 189)",
    "rgb(204, 235, 197)", "rgb(255, 237, 111)",
)


def term_color(term: int) -> str:
    """The colour of log cells written in ``term`` (a palette of ten, repeating)."""
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


def message_kind(msg: Message) -> str:
    """The style key of ``msg``: its class name, or ``Heartbeat`` for an empty AppendEntries."""
    if isinstance(msg, AppendEntries) and not msg.entries:
        return "Heartbeat"
    return type(msg).__name__


def message_ok(msg: Message) -> bool:
    """False for a refused vote or a rejected AppendEntries (drawn in red), True otherwise."""
    if isinstance(msg, RequestVoteReply):
        return msg.vote_granted
    if isinstance(msg, AppendEntriesReply):
        return msg.success
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


@cache
def _template_json(theme: str) -> dict[str, Any]:
    import plotly.io as pio

    return pio.templates[_TEMPLATES[theme]].to_plotly_json()


def template(theme: str = "light") -> dict[str, Any]:
    """plotly's template for ``theme`` (``plotly_white`` or ``plotly_dark``) as plain data.

    Plain data, not a name: a template name is only resolved when a figure is
    validated, and the explorer's figures skip validation.
    """
    return copy.deepcopy(_template_json(check_theme(theme)))


def ink(theme: str = "light", what: str = "text") -> str:
    """A neutral colour that reads on ``theme``'s background: ``text``, ``faint`` (idle links) or ``outline``."""
    return _INK[check_theme(theme)][("text", "faint", "outline").index(what)]
