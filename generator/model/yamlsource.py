"""Read YAML into plain data while remembering the line and column of every key and value.

PyYAML's composer gives each node its position; we build the Python values ourselves so that
duplicate keys are reported (PyYAML silently keeps the last one) and every later error can
point at the exact place in the file.

A hostile file is refused, located, before it can cost much time or memory: the file's size, the
depth of its nesting and the number of values it holds once aliases are expanded are bounded
(`MAX_BYTES`, `MAX_DEPTH`, `MAX_NODES`; a portfolio of 200 tiers uses a few thousand values).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.model.problems import InputError, Loc, Problem, field_name

MAX_BYTES = 1_000_000
MAX_DEPTH = 40
MAX_NODES = 20_000


class _TooBig(Exception):
    """The document goes past one of the bounds; `mark` is where it did."""

    def __init__(self, mark: yaml.Mark | None, message: str):
        super().__init__(message)
        self.mark = mark
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting and merge keys that multiply a document's size."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooBig(
                    self.peek_event().start_mark,
                    f"nested more than {MAX_DEPTH} levels deep; a portfolio needs a few",
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def flatten_mapping(self, node):
        super().flatten_mapping(node)  # calls this method again for each merged mapping
        if len(node.value) > MAX_NODES:
            raise _TooBig(node.start_mark, _expanded_message())


def _expanded_message() -> str:
    return (
        f"more than {MAX_NODES:,} values once its aliases (*name) and merge keys (<<) are "
        "expanded; write the values out or use fewer aliases"
    )


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class Source:
    """Parsed YAML data plus where each part of it came from."""

    path: str
    data: Any
    values: dict[Loc, Mark] = field(default_factory=dict)
    keys: dict[Loc, Mark] = field(default_factory=dict)
    # Scalars as written (before YAML typed them): `yes`, `1.10`, for hints like "quote it".
    raw: dict[Loc, str] = field(default_factory=dict)
    # Problems that do not stop parsing (duplicate keys); validation reports them with its own.
    problems: list[Problem] = field(default_factory=list)

    def mark_for(self, loc: Loc, *, at_key: bool = False) -> Mark:
        """The best position for `loc`: the value (or key) itself, else its nearest ancestor."""
        if at_key and loc in self.keys:
            return self.keys[loc]
        if loc in self.values:
            return self.values[loc]
        for end in range(len(loc) - 1, 0, -1):
            parent = loc[:end]
            # A missing field belongs to the mapping that should hold it: point at its key.
            if parent in self.keys:
                return self.keys[parent]
            if parent in self.values:
                return self.values[parent]
        return Mark(1, 1)

    def problem(self, loc: Loc, message: str, *, at_key: bool = False) -> Problem:
        mark = self.mark_for(loc, at_key=at_key)
        return Problem(self.path, mark.line, mark.column, field_name(loc), message)


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def load_source(path: Path, display: str | None = None) -> Source:
    """Read and parse `path`; raise `InputError` unless it is one valid YAML document."""
    display = display or str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)  # never more than the bound into memory
        if len(data) > MAX_BYTES:
            raise InputError([_too_large(display)])
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise InputError(
            [Problem(display, 1, 1, "(file)", "no such file; create it or pass -p PATH")]
        ) from None
    except IsADirectoryError:
        raise InputError(
            [Problem(display, 1, 1, "(file)", "is a directory; pass the portfolio file")]
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError([Problem(display, 1, 1, "(file)", f"cannot read it: {err}")]) from None
    return parse_source(text, display)


_QUOTED_OR_COMMENT = re.compile(r"'[^']*'|\"(?:\\.|[^\"\\])*\"|#[^\n]*")
_BRACKET = re.compile(r"[\[\]{}]")


def _flow_depth_problem(text: str, display: str) -> Problem | None:
    """Refuse deeply nested [ ] and { } before the scanner sees them.

    PyYAML's scanner looks ahead over every open bracket of a line, which makes a line of
    thousands of them slow long before the composer's depth check is reached.
    """
    depth = 0
    plain = _QUOTED_OR_COMMENT.sub(lambda m: " " * len(m.group()), text)
    for found in _BRACKET.finditer(plain):
        depth = depth + 1 if found.group() in "[{" else max(depth - 1, 0)
        if depth > MAX_DEPTH:
            line = text.count("\n", 0, found.start()) + 1
            column = found.start() - text.rfind("\n", 0, found.start())
            return Problem(
                display,
                line,
                column,
                "(yaml)",
                f"nested more than {MAX_DEPTH} levels deep; a portfolio needs a few",
            )
    return None


def _too_large(display: str) -> Problem:
    return Problem(
        display, 1, 1, "(file)", f"larger than {MAX_BYTES:,} bytes; a portfolio is far smaller"
    )


def _located(display: str, err: _TooBig) -> InputError:
    line, column = (err.mark.line + 1, err.mark.column + 1) if err.mark else (1, 1)
    return InputError([Problem(display, line, column, "(yaml)", err.message)])


def parse_source(text: str, display: str) -> Source:
    """Parse YAML `text` (read from `display`); raise `InputError` unless it is one valid,
    reasonably sized document."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise InputError([_too_large(display)])
    too_deep = _flow_depth_problem(text, display)
    if too_deep:
        raise InputError([too_deep])
    source = Source(display, None)
    try:
        loader = _BoundedLoader(text)
        node = loader.get_single_node()
    except _TooBig as err:
        raise _located(display, err) from None
    except yaml.reader.ReaderError as err:  # a control character: not a MarkedYAMLError
        line = text.count("\n", 0, err.position) + 1
        column = err.position - text.rfind("\n", 0, err.position)
        what = f"character #x{err.character:04x} is not allowed in YAML; remove it"
        raise InputError([Problem(display, line, column, "(yaml)", what)]) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = err.problem or err.context or "invalid YAML"
        if err.context and err.context_mark and err.problem_mark:
            # Name where the unfinished construct began: that is usually the real mistake.
            opened = err.context_mark
            what += f" ({err.context} at line {opened.line + 1}, column {opened.column + 1})"
        raise InputError([Problem(display, line, column, "(yaml)", what)]) from None
    except yaml.YAMLError as err:
        raise InputError([Problem(display, 1, 1, "(yaml)", str(err))]) from None

    if node is None:
        raise InputError(
            [
                Problem(
                    display,
                    1,
                    1,
                    "(file)",
                    "the file is empty; start it with: schema: labcatalog/v2",
                )
            ]
        )
    try:
        source.data = _convert(loader, node, (), source, source.problems, [0])
    except _TooBig as err:
        raise _located(display, err) from None
    finally:
        loader.dispose()
    return source


def _convert(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    loc: Loc,
    source: Source,
    problems: list[Problem],
    count: list[int],
) -> Any:
    # Aliases make the composed graph share nodes; expanding them is what a "billion laughs"
    # file abuses, so every value made is counted.
    count[0] += 1
    if count[0] > MAX_NODES:
        raise _TooBig(node.start_mark, _expanded_message())
    source.values[loc] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves "<<" merge keys like SafeLoader does
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                mark = _mark(key_node)
                problems.append(
                    Problem(
                        source.path,
                        mark.line,
                        mark.column,
                        field_name(loc),
                        "a key must be plain text",
                    )
                )
                continue
            key = loader.construct_object(key_node)
            if key in result:
                first = source.keys[(*loc, key)]
                mark = _mark(key_node)
                problems.append(
                    Problem(
                        source.path,
                        mark.line,
                        mark.column,
                        field_name((*loc, key)),
                        f"duplicate key (first defined on line {first.line}); keep only one",
                    )
                )
                continue
            source.keys[(*loc, key)] = _mark(key_node)
            result[key] = _convert(loader, value_node, (*loc, key), source, problems, count)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(loader, item, (*loc, index), source, problems, count)
            for index, item in enumerate(node.value)
        ]
    source.raw[loc] = node.value
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError) as err:  # ValueError: `!!int abc`, `2024-13-45`
        mark = _mark(node)
        if isinstance(err, yaml.constructor.ConstructorError) and node.tag.startswith("!"):
            message = f"YAML tag {node.tag!r} is not supported here; write a plain value"
        elif isinstance(err, ValueError):
            message = f"{node.value!r} cannot be read as {node.tag.rsplit(':', 1)[-1]} ({err}); "
            message += "quote it if it is text"
        else:
            message = getattr(err, "problem", None) or str(err)  # one line, no snippet
        problems.append(Problem(source.path, mark.line, mark.column, field_name(loc), message))
        return None
