"""The hub route function's source as the template embeds it (Lambda `Code.ZipFile`).

CloudFormation takes at most 4096 characters of inline code, and the commented source is over
that. As the personal hub's boot script leaves out its comment lines, this leaves out comments,
docstrings and blank lines, and (still over) writes the code back from its syntax tree with one
space per indent level: the same program, statement for statement. The function is
route_function.py.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

ROUTE_FUNCTION = Path(__file__).with_name("route_function.py")
INLINE_CODE_LIMIT = 4096
HEADER = "# products/shared_hub/route_function.py without comments\n"
_INDENT = re.compile(r"^(?:    )+", re.MULTILINE)


@functools.cache
def inline_source() -> str:
    """route_function.py without comments, docstrings and blank lines, with a line naming it."""
    return HEADER + compact_python(ROUTE_FUNCTION.read_text())


def without_docstrings(tree: ast.Module) -> ast.Module:
    """`tree` without its module, class and function docstrings (`pass` if nothing is left)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0]):
            node.body = body[1:] or [ast.Pass()]
    return tree


def compact_python(source: str) -> str:
    """`source` written back from its syntax tree without docstrings, one space per indent level.

    ast.unparse writes each statement on one line and each string without line breaks, so every
    leading run of four spaces is indentation; blank lines are left out for the same reason.
    """
    code = ast.unparse(without_docstrings(ast.parse(source)))
    code = _INDENT.sub(lambda match: " " * (len(match.group()) // 4), code)
    return "".join(line + "\n" for line in code.splitlines() if line.strip())


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )
