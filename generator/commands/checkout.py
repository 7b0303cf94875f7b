"""Refuse to run a copy of labcatalog other than the checkout one works in.

A frozen install (a wheel in some environment) keeps generating the templates of the code it was
installed from: after an edit it would call a stale build/ "up to date". So inside a checkout of
labcatalog (a folder with pyproject.toml and generator/cli.py), the verbs that generate templates
run only if the code running is that checkout's own, installed editable.
"""

from __future__ import annotations

from pathlib import Path

import generator
from generator.model.problems import UserError


def _checkout(folder: Path) -> Path | None:
    folder = folder.resolve()
    if (folder / "pyproject.toml").is_file() and (folder / "generator" / "cli.py").is_file():
        return folder
    return None


def require_running_checkout(portfolio_path: Path) -> None:
    """`UserError` when the current folder or the portfolio's is a labcatalog checkout whose
    code is not the code running."""
    running = Path(generator.__file__).resolve().parent.parent
    for folder in (Path.cwd(), portfolio_path.parent):
        checkout = _checkout(folder)
        if checkout is not None and checkout != running:
            raise UserError(
                f"this labcatalog runs the code installed in {running}, not the code of this "
                f"checkout ({checkout}), so what it generates or calls up to date is not of the "
                f"code here. Install the checkout editable: pip install -e {checkout} "
                "(tox's envs do: source .tox/build/bin/activate)"
            )
