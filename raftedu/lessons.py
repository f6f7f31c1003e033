"""Small helpers the lesson notebooks share (the top layer: nothing in raftedu imports it)."""

from __future__ import annotations

import textwrap
from typing import Any

__all__ = ["read_back", "say"]

WIDTH = 100
"""Characters per printed line: narrower than a JupyterLab output area at 1280 px, so no line wraps mid-word."""


def say(*paragraphs: str, width: int = WIDTH) -> None:
    """Print each paragraph wrapped at word boundaries to ``width`` characters, continuation lines indented.

    Lessons print whole sentences; JupyterLab breaks an over-long output line wherever the window ends, even inside
    a word. ``say`` breaks it between words instead. A paragraph's own line breaks are kept (each line is wrapped
    alone), so a multi-line report such as ``str(SafetyViolation)`` keeps its layout.
    """
    for text in paragraphs:
        for line in text.split("\n"):
            print(textwrap.fill(line, width=width, subsequent_indent="   ", break_long_words=False,
                                break_on_hyphens=False))


def read_back(prediction: Any, actual: Any, about: str = "") -> None:
    """Compare a student's prediction with what the run computed, and say so in one sentence.

    A prediction left at ``None`` gets a nudge to guess first; otherwise the
    two values are quoted side by side ("You said 5; it is 6"). Text is
    compared without case or surrounding spaces, so ``"True"`` matches ``True``.
    ``about`` names the question when a cell reads back several ("fastest: You said ..."); it is wrapped with the
    sentence, so the line stays within ``say``'s width.
    """
    lead = f"{about}: " if about else ""
    if prediction is None:
        say(f"{lead}You left my_prediction = None. No harm done, but guessing first is what makes the answer stick: "
            f"go back, write a guess, and run again. The run says: {actual!r}.")
    elif str(prediction).strip().lower() == str(actual).strip().lower():
        say(f"{lead}You said {prediction!r}; it is {actual!r}. Right. Can you say why before reading on?")
    else:
        say(f"{lead}You said {prediction!r}; it is {actual!r}. Read on to see why.")
