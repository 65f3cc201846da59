"""The project's exception types: user-facing errors carry a one-line message naming the file and problem."""

from __future__ import annotations

from pathlib import Path


class PoseliftError(Exception):
    """An error the user can act on; the CLI prints its message as one line and exits with status 2."""


class InputError(PoseliftError):
    """Malformed or unsupported input (a file, an array or an argument)."""

    def __init__(self, source: str | Path | None, problem: str):
        self.source = None if source is None else str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}" if self.source else problem)
