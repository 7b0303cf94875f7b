"""Re-pin requirements/constraints.txt: install everything fresh, record every version."""

import subprocess
import sys
import tempfile
import venv
from pathlib import Path

HERE = Path(__file__).parent
# The wheel is built in pip's isolated build env, which PIP_CONSTRAINT also pins.
BUILD_BACKEND = "hatchling"
HEADER = """\
# Every package the tox envs install, pinned: a fresh machine gets exactly what was tested.
# Applied through PIP_CONSTRAINT in tox.ini. Regenerate with: tox -e lock
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        venv.create(tmp, with_pip=True)
        pip = [str(Path(tmp) / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        requirements = [str(HERE.parent), "-r", str(HERE / "dev.in"), BUILD_BACKEND]
        subprocess.run([*pip, "install", "-q", *requirements], check=True)
        frozen = subprocess.run(
            [*pip, "freeze", "--exclude", "labcatalog"], check=True, capture_output=True, text=True
        ).stdout
    lines = sorted((line for line in frozen.splitlines() if "==" in line), key=str.lower)
    (HERE / "constraints.txt").write_text(HEADER + "\n".join(lines) + "\n")
    print(f"pinned {len(lines)} packages in {HERE / 'constraints.txt'}", file=sys.stderr)


if __name__ == "__main__":
    main()
