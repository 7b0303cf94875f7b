"""Each user's notebook server: everything lives in the user's persistent home directory.

The home (`/home/jovyan`, the image user's) is what the file browser shows, where kernels
start, and where `pip install --user` and R's `install.packages()` write: one place, so
`pd.read_csv("data.csv")` opens the file the browser shows. On the shared hub it is the user's
EFS access point on the tier's file system, with the team's `shared/` folder mounted inside it;
on the personal hub it is the user's folder on the data volume. Either way it outlives the
server. Plain files on disk: no contents manager of our own.
"""

import os
import shlex
import sys
import tempfile
from pathlib import Path

c = get_config()  # noqa: F821 (Jupyter defines it while loading this file)

home = os.environ.get("HOME") or os.path.expanduser("~")
# The file browser's root is the home, and kernels start in the folder of their notebook
# within it (the kernel manager's root_dir follows the server's).
c.ServerApp.root_dir = home
c.FileContentsManager.root_dir = home
# Hidden files stay hidden in the browser, but dotfiles (.local, .config) are kept on the home.
c.ContentsManager.allow_hidden = False
# R's install.packages() uses R_LIBS_USER (set by the image) only if the folder exists.
if os.environ.get("R_LIBS_USER"):
    os.makedirs(os.path.expanduser(os.environ["R_LIBS_USER"]), exist_ok=True)

# Idle servers stop themselves too, not only when the hub culls them: a hub stopped outside its
# hours (the shared hub's HubHours) culls nothing. Idle kernels end after the hub's idle timeout,
# then the server exits after as long with no kernel and no activity, which ends its task.
idle = int(os.environ.get("LABCATALOG_IDLE_TIMEOUT_SECONDS", "0") or 0)
if idle > 0:
    c.MappingKernelManager.cull_idle_timeout = idle
    c.MappingKernelManager.cull_interval = max(1, min(300, idle // 10))
    c.MappingKernelManager.cull_connected = True  # an open tab is not activity
    c.ServerApp.shutdown_no_activity_timeout = idle

# AWS credentials come from the hub only, as the user (labcatalog_hub/credentials.py): every SDK
# in the server, its kernels and terminals reads this AWS config file (they inherit the
# variable), whose credential_process asks the hub with the server's token. The server's own
# role (task or instance) reaches no data. A file of the server's own, outside the home.
aws_config = Path(tempfile.mkdtemp(prefix="labcatalog-aws-")) / "config"
aws_config.write_text(
    "[default]\n"
    "credential_process = "
    + shlex.join([sys.executable, str(Path(__file__).with_name("aws_credentials.py"))])
    + "\n"
)
os.environ["AWS_CONFIG_FILE"] = str(aws_config)
