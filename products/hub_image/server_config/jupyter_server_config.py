"""Each user's notebook server: notebooks live in S3, in the tier's prefix of the notebook bucket.

The file browser shows `home/` (`<tier>/home/<user>/`, the user's own) and `shared/`
(`<tier>/shared/`, the team's). The hub passes the settings below in the server's environment;
S3 is reached with the default credential chain (the task's or instance's role), never with keys.
The top folder itself is an empty local folder: only home/ and shared/ are kept.
"""

import os
import tempfile

from hybridcontents import HybridContentsManager
from jupyter_server.services.contents.largefilemanager import LargeFileManager
from s3contents import S3ContentsManager

c = get_config()  # noqa: F821 (Jupyter defines it while loading this file)

tier = os.environ["LABCATALOG_TIER"]
user = os.environ["JUPYTERHUB_USER"]
region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
s3 = {
    "bucket": os.environ["LABCATALOG_NOTEBOOK_BUCKET"],
    "endpoint_url": os.environ.get("LABCATALOG_S3_ENDPOINT_URL")
    or f"https://s3.{region}.amazonaws.com",
    "region_name": region,
}

c.ServerApp.contents_manager_class = HybridContentsManager
c.HybridContentsManager.manager_classes = {
    "": LargeFileManager,
    "home": S3ContentsManager,
    "shared": S3ContentsManager,
}
c.HybridContentsManager.manager_kwargs = {
    "": {"root_dir": tempfile.mkdtemp(prefix="labcatalog-top-")},
    "home": {**s3, "prefix": f"{tier}/home/{user}"},
    "shared": {**s3, "prefix": f"{tier}/shared"},
}
# Kernels start in the home directory, where `pip install --user` and R's user library live.
c.ServerApp.root_dir = os.environ.get("HOME", os.getcwd())
# R's install.packages() uses R_LIBS_USER (set by the image) only if the folder exists.
if os.environ.get("R_LIBS_USER"):
    os.makedirs(os.path.expanduser(os.environ["R_LIBS_USER"]), exist_ok=True)
