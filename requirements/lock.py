"""Re-pin requirements/constraints.txt: install everything fresh, record every version.

Then pin the hub image the same way: products/hub_image/constraints.txt holds exactly what its
requirements.txt pulls in, at the versions of constraints.txt (so the image runs what the tests
ran). Last, requirements/taskcat.txt: taskcat's own lock (its pins conflict with constraints.txt),
with the same moto as constraints.txt.
"""

import subprocess
import sys
import tempfile
import venv
from pathlib import Path

HERE = Path(__file__).parent
HUB_IMAGE = HERE.parent / "products" / "hub_image"
# The package is built in pip's isolated build env, which PIP_CONSTRAINT also pins: hatchling,
# and editables for the editable install every tox env makes.
BUILD_BACKEND = "hatchling"
EDITABLE_BACKEND = "editables"
HEADER = """\
# Every package the tox envs install, pinned: a fresh machine gets exactly what was tested.
# Applied through PIP_CONSTRAINT in tox.ini. Regenerate with: tox -e lock
"""
TASKCAT_HEADER = """\
# Every package the taskcat-lint and taskcat tox envs install, pinned (taskcat's pins conflict with
# constraints.txt). Input: requirements/taskcat.in. Regenerate with: tox -e lock
"""
IMAGE_HEADER = """\
# Everything requirements.txt pulls into the hub image, at the versions the tests ran
# (a subset of requirements/constraints.txt). Regenerate with: tox -e lock
"""


def freeze(requirements: list[str], target: Path, header: str, *, all_: bool = False) -> None:
    """Install `requirements` into a fresh venv and write every installed version to `target`.

    `all_` pins setuptools too (pip freeze leaves it out), for a tool that needs a given one.
    """
    with tempfile.TemporaryDirectory() as tmp:
        venv.create(tmp, with_pip=True)
        pip = [str(Path(tmp) / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        subprocess.run([*pip, "install", "-q", *requirements], check=True)
        command = [*pip, "freeze", "--exclude", "labcatalog", "--exclude", "pip"]
        if all_:
            command.append("--all")
        frozen = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    lines = sorted((line for line in frozen.splitlines() if "==" in line), key=str.lower)
    target.write_text(header + "\n".join(lines) + "\n")
    print(f"pinned {len(lines)} packages in {target}", file=sys.stderr)


def pinned(name: str, lock: Path) -> str:
    """`name==version` as pinned in `lock`."""
    for line in lock.read_text().splitlines():
        if line.lower().startswith(f"{name}=="):
            return line
    raise SystemExit(f"{name} is not pinned in {lock}")


def main() -> None:
    constraints = HERE / "constraints.txt"
    freeze(
        [str(HERE.parent), "-r", str(HERE / "dev.in"), BUILD_BACKEND, EDITABLE_BACKEND],
        constraints,
        HEADER,
    )
    image = ["-r", str(HUB_IMAGE / "requirements.txt"), "-c", str(constraints)]
    freeze(image, HUB_IMAGE / "constraints.txt", IMAGE_HEADER)
    taskcat = [str(HERE.parent), "-r", str(HERE / "taskcat.in"), pinned("moto", constraints)]
    freeze(
        [*taskcat, BUILD_BACKEND, EDITABLE_BACKEND],
        HERE / "taskcat.txt",
        TASKCAT_HEADER,
        all_=True,
    )


if __name__ == "__main__":
    main()
