"""Re-pin requirements/constraints.txt: install the package and dev.in fresh, record every version."""

import subprocess
import sys
import tempfile
import venv
from pathlib import Path

HERE = Path(__file__).parent
HEADER = """\
# Every package the tox envs install, pinned: a fresh machine gets exactly what was tested.
# Applied through PIP_CONSTRAINT in tox.ini. Regenerate with: tox -e lock
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        venv.create(tmp, with_pip=True)
        python = str(Path(tmp) / "bin" / "python")
        pip = [python, "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "install", str(HERE.parent), "-r", str(HERE / "dev.in")], check=True)
        frozen = subprocess.run(
            [*pip, "freeze", "--exclude", "labcatalog"], check=True, capture_output=True, text=True
        ).stdout
        setuptools = subprocess.run(
            [*pip, "index", "versions", "setuptools"], check=True, capture_output=True, text=True
        ).stdout.split("(")[1].split(")")[0]
    lines = [line for line in frozen.splitlines() if line and not line.startswith("-e")]
    text = HEADER + "\n".join([*lines, f"setuptools=={setuptools}"]) + "\n"
    (HERE / "constraints.txt").write_text(text)
    print(f"pinned {len(lines) + 1} packages in {HERE / 'constraints.txt'}", file=sys.stderr)


if __name__ == "__main__":
    main()
