"""Small helpers the lesson notebooks share (the top layer: nothing in raftedu imports it)."""

from __future__ import annotations

from typing import Any

__all__ = ["read_back"]


def read_back(prediction: Any, actual: Any) -> None:
    """Compare a student's prediction with what the run computed, and say so in one sentence.

    A prediction left at ``None`` gets a nudge to guess first; otherwise the
    two values are quoted side by side ("You said 5; it is 6"). Text is
    compared without case or surrounding spaces, so ``"True"`` matches ``True``.
    """
    if prediction is None:
        print(f"You left my_prediction = None. No harm done, but guessing first is what makes the answer stick: "
              f"go back, write a guess, and run again. The run says: {actual!r}.")
    elif str(prediction).strip().lower() == str(actual).strip().lower():
        print(f"You said {prediction!r}; it is {actual!r}. Right. Can you say why before reading on?")
    else:
        print(f"You said {prediction!r}; it is {actual!r}. Read on to see why.")
