"""The AWS SDKs' `credential_process` of a user's server: the user's session, from the hub.

The server's config (jupyter_server_config.py, beside this file) names this script in the AWS
config file it gives the server and its kernels and terminals, so every SDK asks here when it
needs credentials, and again before they expire. It asks the hub's API with the server's own
token and prints the session as the SDKs read it; the hub assumed the tier's data role as the
user (labcatalog_hub/credentials.py). Only the standard library: it runs in any environment of
the image, with whatever Python a kernel has.
"""

import json
import os
import sys
import urllib.error
import urllib.request

PATH = "labcatalog/credentials"  # labcatalog_hub.credentials.API_PATH


def main() -> int:
    api = os.environ.get("JUPYTERHUB_API_URL", "").rstrip("/")
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not api or not token:
        print("not in a JupyterHub server: no hub to ask for AWS credentials", file=sys.stderr)
        return 1
    request = urllib.request.Request(f"{api}/{PATH}", headers={"Authorization": f"token {token}"})
    # The hub is reached directly (a name inside the VPC, or the hub's container), never through
    # a proxy a user may have set for the internet.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            session = json.load(response)
    except urllib.error.HTTPError as err:
        reason = err.read()[:500].decode(errors="replace")
        print(f"the hub gave no AWS credentials ({err.code}): {reason}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as err:
        print(f"could not ask the hub for AWS credentials: {err}", file=sys.stderr)
        return 1
    json.dump(session, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
