"""A small LDAP directory for the LDAP login test, served by ldaptor (pure Python, from PyPI).

Run as `python -m tests.support.ldap_server DIRECTORY.ldif`: it listens on 127.0.0.1 on a free port,
prints the port on one line, and serves until it is terminated. It runs in its own process
because Twisted's reactor can be started only once per process. Why not Debian's slapd: the
suite's only set-up is `tox`, which installs from PyPI and npm, not apt.
"""

from __future__ import annotations

import sys
from io import BytesIO
from pathlib import Path

from ldaptor.inmemory import fromLDIFFile
from ldaptor.interfaces import IConnectedLDAPEntry
from ldaptor.protocols.ldap.ldapserver import LDAPServer
from twisted.internet import reactor
from twisted.internet.protocol import ServerFactory
from twisted.python.components import registerAdapter


class DirectoryFactory(ServerFactory):
    protocol = LDAPServer

    def __init__(self, root) -> None:
        self.root = root


registerAdapter(lambda factory: factory.root, DirectoryFactory, IConnectedLDAPEntry)


def serve(root) -> None:
    port = reactor.listenTCP(0, DirectoryFactory(root), interface="127.0.0.1")
    print(port.getHost().port, flush=True)


def main() -> None:
    directory = fromLDIFFile(BytesIO(Path(sys.argv[1]).read_bytes()))
    directory.addCallback(serve)
    directory.addErrback(lambda failure: (print(failure, file=sys.stderr), reactor.stop()))
    reactor.run()


if __name__ == "__main__":
    main()
