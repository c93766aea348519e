"""A TCP proxy on 127.0.0.1 that can cut the network between a client and its server.

While :meth:`cut`, bytes are held back in both directions (neither end hears from the other,
as in a partition; nothing is closed); :meth:`heal` delivers what was held and carries on,
as TCP does once a partition ends. New connections made during a cut hang the same way.

``cut(reset=True)`` is the other kind of partition (a firewall that rejects, a server moved
elsewhere): every open connection is reset (RST) at once and new ones are reset as soon as
they are accepted, until :meth:`heal`.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


class PartitionProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.host = "127.0.0.1"
        self._open = threading.Event()
        self._open.set()
        self._refusing = False
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server((self.host, 0))
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, name="partition-proxy", daemon=True)

    def cut(self, *, reset: bool = False) -> None:
        if not reset:
            self._open.clear()
            return
        self._refusing = True
        sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _reset(sock)

    def heal(self) -> None:
        self._refusing = False
        self._open.set()

    def __enter__(self) -> PartitionProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._open.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        if self._refusing:
            _reset(client)
            return
        self._open.wait()
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        self._sockets += [client, upstream]
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                self._open.wait()  # held back while cut
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP reset, not a FIN: linger on, with a timeout of zero. Shutting
    its reading side first wakes the pump blocked on it (close alone would not)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    sock.close()
