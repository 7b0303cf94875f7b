"""Problems found in a user's input, reported as `PATH:LINE:COL: field: what is wrong`."""

from __future__ import annotations

from dataclasses import dataclass

Loc = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input file, located as precisely as the source allows."""

    path: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.field}: {self.message}"


class InputError(Exception):
    """The user's input is wrong; every problem is listed, none is a bug in labcatalog."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UserError(Exception):
    """A mistake the user can fix (bad option, limit exceeded): reported without a traceback."""


def field_name(loc: Loc) -> str:
    """`("tiers", 0, "read", 1)` -> `tiers[0].read[1]`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(file)"
