"""A stand-in for the shared hub's Cloud Map name: one fixed address that reaches the running hub.

On AWS each hub task has its own address, and users' servers reach the hub API through
`hub.<stack>.labcatalog.internal`, which ECS points at whichever hub task runs. Here a hub
process has a port of its own (a new one after a restart), and `StableName` is a TCP forwarder
on a fixed 127.0.0.1 port that passes each connection on to the port `target()` returns at the
time it connects. A connection made while no hub listens is closed, as a call to a name whose
task has gone fails.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class StableName:
    """`url` stays the same; connections go to 127.0.0.1:`target()` as it is when they open."""

    def __init__(self, target: Callable[[], int | None] = lambda: None) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._forward, args=(client,), daemon=True).start()

    def _forward(self, client: socket.socket) -> None:
        port = self.target()
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=5) if port else None
        except OSError:
            upstream = None
        if upstream is None:
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def stop(self) -> None:
        self._closed = True
        self._listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes until either side closes, then close both."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for end in (source, sink):
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)
        end.close()
