"""A local Service Catalog to try `labcatalog plan` and `publish` on, without an AWS account.

Run it with `tox -e local-catalog` (or `python -m tests.support.local_catalog` from the
checkout, with the test dependencies installed). It starts moto's server on 127.0.0.1 with the
stateful Service Catalog of tests/support/moto_servicecatalog.py, creates what the platform stack
would leave for the publisher (the template bucket, named in SSM), prints the environment to
export in another shell, and serves until stopped (Ctrl-C or SIGTERM). Everything is in memory:
a restart starts from an empty catalog.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from generator.cfn import names
from tests.support import moto_servicecatalog
from tests.support.moto_server import DUMMY_CREDENTIALS, REGION, start_moto_server

TEMPLATE_BUCKET = "labcatalog-templates-local"


def environment(endpoint_url: str) -> dict[str, str]:
    """What `labcatalog plan` and `publish` need to talk to the local catalog."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tox -e local-catalog --", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    port = parser.parse_args(argv).port
    moto_servicecatalog.install()
    server = start_moto_server(port)
    server.client("s3").create_bucket(Bucket=TEMPLATE_BUCKET)
    server.client("ssm").put_parameter(
        Name=names.TEMPLATE_BUCKET_PARAMETER, Value=TEMPLATE_BUCKET, Type="String"
    )
    exports = " ".join(f"{k}={v}" for k, v in environment(server.endpoint_url).items())
    print(
        f"A local Service Catalog (moto) runs at {server.endpoint_url}.\n"
        "In another shell, in this folder, export its environment, then plan and publish:\n\n"
        f"export {exports}\n"
        "labcatalog plan\n"
        "labcatalog publish --yes\n\n"
        "Stop it with Ctrl-C; the catalog lives in memory only.",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print("local catalog stopped", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
