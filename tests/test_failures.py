"""User mistakes and failures of the environment end in a message and an exit code, never a
traceback, and leave nothing half-written."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from generator.cli import main
from generator.engine import build_folder
from generator.engine.publish import aws
from tests.conftest import EXAMPLE, ROOT


def run(*args: str, **env: str):
    return CliRunner().invoke(main, list(args), env=env or None)


def assert_no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


# --- the build folder ------------------------------------------------------------------------


def snapshot(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_an_output_path_under_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = run("build", "-p", str(EXAMPLE), "-o", str(tmp_path / "afile" / "build"))
    assert result.exit_code == 2, result.output
    assert "is a file" in result.stderr and "nothing was written" in result.stderr
    assert_no_traceback(result)
    assert (tmp_path / "afile").read_text() == "x"


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = run("build", "-p", str(EXAMPLE), "-o", str(tmp_path / "afile"))
    assert result.exit_code == 2, result.output
    assert_no_traceback(result)


def test_an_unwritable_output_folder_is_refused_and_left_as_it_was(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run("build", "-p", str(EXAMPLE), "-o", str(out)).exit_code == 0
    (out / "platform.template.json").write_text("edited\n")
    before = snapshot(out)

    def denied(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", str(dir))

    # Root ignores file modes, so the refusal the OS would give is simulated where it happens.
    monkeypatch.setattr(build_folder.tempfile, "mkdtemp", denied)
    result = run("build", "-p", str(EXAMPLE), "-o", str(out))
    assert result.exit_code == 2, result.output
    assert f"permission denied on {out}" in result.stderr
    assert "nothing was written" in result.stderr
    assert_no_traceback(result)
    assert snapshot(out) == before


def test_a_new_output_folder_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    out = tmp_path / "new" / "build"
    real_stage = build_folder._stage

    def fail_after_first(files, stage):
        real_stage(files[:1], stage)
        raise OSError(28, "No space left on device", str(stage / files[1].path))

    monkeypatch.setattr(build_folder, "_stage", fail_after_first)
    result = run("build", "-p", str(EXAMPLE), "-o", str(out))
    assert result.exit_code == 2, result.output
    assert "No space left on device" in result.stderr
    assert not out.exists()
    assert list((tmp_path / "new").iterdir()) == []  # no temporary folder left behind
    monkeypatch.undo()
    assert run("build", "-p", str(EXAMPLE), "-o", str(out)).exit_code == 0
    assert build_folder.differences(build_folder.read(out).files, out) == []
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)  # not the temporary folder's mode


# --- where AWS is ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case,url",
    [
        ("no scheme", "127.0.0.1:4566"),
        ("not a url", "not a url"),
        ("no host", "http://"),
        ("other scheme", "ftp://example.com"),
        ("bad port", "http://127.0.0.1:99999"),
        ("bad IPv6", "http://[::1"),
    ],
)
def test_a_malformed_endpoint_url_is_refused(case, url):
    started = time.monotonic()
    result = run("plan", "-p", str(EXAMPLE), "-o", str(ROOT / "build"), "--endpoint-url", url)
    assert result.exit_code == 2, result.output
    assert repr(url) in result.stderr and "--endpoint-url" in result.stderr
    assert_no_traceback(result)
    assert time.monotonic() - started < 10


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends


def test_an_unreachable_endpoint_fails_fast_naming_it_and_what_to_check():
    endpoint = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = run("plan", "-p", str(EXAMPLE), "-o", str(ROOT / "build"), "--endpoint-url", endpoint)
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert f"cannot reach {endpoint}" in result.stderr
    assert "check --endpoint-url" in result.stderr
    assert result.stderr.count("retrying:") == aws.RetryPolicy.connection_attempts - 1
    assert_no_traceback(result)
    assert elapsed < 15, f"{elapsed:.1f} s"


class ThrottlingServer(ThreadingHTTPServer):
    """Answers Service Catalog's JSON protocol: throttled `throttled` times, then an empty list."""

    def __init__(self, throttled: int):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.throttled = throttled
        self.requests = 0


class _Handler(BaseHTTPRequestHandler):
    server: ThrottlingServer

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests += 1
        if self.server.requests <= self.server.throttled:
            status, body = 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        else:
            status, body = 200, {"PortfolioDetails": []}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def throttling():
    servers = []

    def start(throttled: int) -> ThrottlingServer:
        server = ThrottlingServer(throttled)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_throttling_is_retried_with_backoff_and_shown(throttling):
    server = throttling(3)
    shown: list[str] = []
    clients = aws.connect(
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
        notify=shown.append,
    )
    started = time.monotonic()
    assert clients.servicecatalog.list_portfolios()["PortfolioDetails"] == []
    assert server.requests == 4
    assert [m.split(";")[0] for m in shown] == [
        "servicecatalog.ListPortfolios: throttled (ThrottlingException)"
    ] * 3
    assert [m.split("retry ")[1].split(" in")[0] for m in shown] == ["1 of 7", "2 of 7", "3 of 7"]
    # Backoff: at least half of 0.5, 1 and 2 seconds was waited.
    assert time.monotonic() - started >= 0.25 + 0.5 + 1.0


def test_throttling_that_does_not_end_stops_after_the_bounded_attempts(throttling, monkeypatch):
    monkeypatch.setattr(aws.RetryPolicy, "delay", lambda self, attempt: 0.01)
    server = throttling(100)
    clients = aws.connect(
        region="us-east-1", endpoint_url=f"http://127.0.0.1:{server.server_address[1]}"
    )
    with pytest.raises(aws.botocore.exceptions.ClientError, match="ThrottlingException"):
        clients.servicecatalog.list_portfolios()
    assert server.requests == aws.RetryPolicy.throttle_attempts


def test_an_unparseable_answer_is_reported_without_a_traceback(throttling, monkeypatch):
    class Html(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(aws.RetryPolicy, "delay", lambda self, attempt: 0.01)
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        result = run(
            "plan", "-p", str(EXAMPLE), "-o", str(ROOT / "build"), "--endpoint-url", endpoint
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1, result.output
    assert "retrying:" in result.stderr and "HTTP 502" in result.stderr
    assert_no_traceback(result)


def test_ctrl_c_ends_with_a_message_not_a_traceback(monkeypatch):
    from generator.commands import validate

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(validate, "load_checked", interrupted)
    result = run("validate", "-p", str(EXAMPLE))
    assert result.exit_code == 130
    assert "interrupted; run the command again" in result.stderr
    assert_no_traceback(result)
