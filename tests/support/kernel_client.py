"""Run code in a Jupyter kernel over the server's websocket API (the JupyterLab protocol)."""

from __future__ import annotations

import asyncio
import json
import uuid

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


def execute(url: str, headers: dict[str, str], code: str, timeout: float) -> str:
    """Send one execute_request; return the kernel's stdout/stderr, or its error as text."""
    return asyncio.run(asyncio.wait_for(_execute(url, headers, code), timeout))


async def _execute(url: str, headers: dict[str, str], code: str) -> str:
    connection = await websocket_connect(HTTPRequest(url, headers=headers))
    msg_id = uuid.uuid4().hex
    await connection.write_message(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "session": uuid.uuid4().hex,
                    "username": "tests",
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
                "buffers": [],
            }
        )
    )
    output: list[str] = []
    # The reply (shell channel) may overtake the output (iopub): done when both the reply
    # and the kernel's idle status for this request have arrived.
    replied = idle = False
    try:
        while not (replied and idle):
            raw = await connection.read_message()
            if raw is None:
                raise ConnectionError("the kernel's websocket closed")
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                output.append(content["text"])
            elif kind == "error":
                output.append(f"{content['ename']}: {content['evalue']}")
            elif kind == "execute_reply":
                replied = True
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
        return "".join(output)
    finally:
        connection.close()
