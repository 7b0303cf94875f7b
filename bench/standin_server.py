"""A stand-in for a user's notebook server, for the hub load benchmark (bench/hub.py load).

What the hub sees of a real server, and nothing else: it answers HTTP at its URL (the hub's
start-up check, and users' requests through the proxy) and reports activity to the hub's API
every JUPYTERHUB_ACTIVITY_INTERVAL seconds, as jupyterhub-singleuser does. No kernels, no
Jupyter: a real server's own CPU and memory are its task's, not the hub's. Standard library
only, started by JupyterHub's SimpleLocalProcessSpawner with the variables it sets.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"started": START, "connections": 0, "kernels": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def report_activity() -> None:
    """POST last_activity to the hub, as the single-user server's activity loop does."""
    url = os.environ["JUPYTERHUB_ACTIVITY_URL"]
    token = os.environ["JUPYTERHUB_API_TOKEN"]
    server = os.environ.get("JUPYTERHUB_SERVER_NAME", "")
    interval = float(os.environ.get("JUPYTERHUB_ACTIVITY_INTERVAL", "300"))
    while True:
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        request = urllib.request.Request(
            url,
            data=json.dumps({"servers": {server: {"last_activity": now}}}).encode(),
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with contextlib.suppress(OSError):  # the hub restarting: the next report tries again
            urllib.request.urlopen(request, timeout=10).close()
        time.sleep(interval)


START = datetime.now(UTC).isoformat()

if __name__ == "__main__":
    address = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    threading.Thread(target=report_activity, daemon=True).start()
    ThreadingHTTPServer((address.hostname, address.port), Handler).serve_forever()
