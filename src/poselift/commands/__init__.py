"""Sub-commands of the poselift CLI, one module each, and the argument types and help format they share."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def ranged(kind: type = float, *, above: float | None = None, minimum: float | None = None,
           maximum: float | None = None) -> Callable[[str], float | int]:
    """An argparse type: a finite `kind` (int or float) with `value > above`, `value >= minimum`, `value <= maximum`.

    NaN, infinities and out-of-range numbers are refused with one line naming the range, before any work starts.
    """
    parts = [f"> {above:g}" if above is not None else "", f">= {minimum:g}" if minimum is not None else "",
             f"<= {maximum:g}" if maximum is not None else ""]
    wanted = f"{'an integer' if kind is int else 'a number'} {' and '.join(p for p in parts if p)}".strip()

    def convert(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, found {text!r}") from None
        if not math.isfinite(value) or (above is not None and not value > above) \
                or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected {wanted}, found {text!r}")
        return value

    convert.__name__ = kind.__name__
    return convert


FPS = ranged(float, above=0, maximum=1000)
"""Frame rates: (0, 1000] frames per second."""
BATCH_SIZE = ranged(int, minimum=1, maximum=1_000_000)
"""Windows per forward pass."""
ROLL_DEGREES = ranged(float, minimum=0, maximum=90)
"""Roll averaging: degrees each way (0: off)."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default once: not when the help already says it, nor for None/False defaults."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text.lower() or action.default is None or action.default is False \
                or action.default == argparse.SUPPRESS \
                or action.option_strings == []:
            return text
        return super()._get_help_string(action)
