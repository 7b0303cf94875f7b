"""Re-pin requirements/constraints.txt: install everything fresh, record every version.

Then pin the hub image the same way: products/hub_image/constraints.txt holds exactly what its
requirements.txt pulls in, at the versions of constraints.txt (so the image runs what the tests
ran).
"""

import subprocess
import sys
import tempfile
import venv
from pathlib import Path

HERE = Path(__file__).parent
HUB_IMAGE = HERE.parent / "products" / "hub_image"
# The wheel is built in pip's isolated build env, which PIP_CONSTRAINT also pins.
BUILD_BACKEND = "hatchling"
HEADER = """\
# Every package the tox envs install, pinned: a fresh machine gets exactly what was tested.
# Applied through PIP_CONSTRAINT in tox.ini. Regenerate with: tox -e lock
"""
IMAGE_HEADER = """\
# Everything requirements.txt pulls into the hub image, at the versions the tests ran
# (a subset of requirements/constraints.txt). Regenerate with: tox -e lock
"""


def freeze(requirements: list[str], target: Path, header: str) -> None:
    """Install `requirements` into a fresh venv and write every installed version to `target`."""
    with tempfile.TemporaryDirectory() as tmp:
        venv.create(tmp, with_pip=True)
        pip = [str(Path(tmp) / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        subprocess.run([*pip, "install", "-q", *requirements], check=True)
        frozen = subprocess.run(
            [*pip, "freeze", "--exclude", "labcatalog"], check=True, capture_output=True, text=True
        ).stdout
    lines = sorted((line for line in frozen.splitlines() if "==" in line), key=str.lower)
    target.write_text(header + "\n".join(lines) + "\n")
    print(f"pinned {len(lines)} packages in {target}", file=sys.stderr)


def main() -> None:
    constraints = HERE / "constraints.txt"
    freeze([str(HERE.parent), "-r", str(HERE / "dev.in"), BUILD_BACKEND], constraints, HEADER)
    image = ["-r", str(HUB_IMAGE / "requirements.txt"), "-c", str(constraints)]
    freeze(image, HUB_IMAGE / "constraints.txt", IMAGE_HEADER)


if __name__ == "__main__":
    main()
