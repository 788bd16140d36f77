"""A TCP proxy in front of a MongoDB-protocol server that can lose the reply to a commit:
armed, it holds back the next reply to a ``commitTransaction`` (the transaction is then
committed and, with ``--sync-on-commit``, on disk), calls ``cut()`` (the test kills the
server there) and drops the connection, so the client never learns that its commit
landed. Everything else is forwarded unchanged, message by message.

Under eventlet's monkey patching (the second pass) the proxy still runs in operating-system
threads on plain sockets: it stands for the network, and must not share the hub of the code
under test (its green sockets, closed under a reader by the other direction's pump, left
listeners on file descriptors that the tests' later subprocesses reused)."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable

from eventlet.patcher import original

socket = original("socket")
threading = original("threading")

OP_MSG = 2013
COMMIT = b"commitTransaction\x00"
#: In an OP_MSG: 16 bytes of header, 4 of flags, the section kind (0: the command
#: document), the document's length, then its first element's type and name.
COMMAND_NAME_AT = 16 + 4 + 1 + 4 + 1


def read_message(sock: socket.socket) -> bytes | None:
    header = _read(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack("<i", header)
    rest = _read(sock, length - 4)
    return None if rest is None else header + rest


def _read(sock: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        try:
            chunk = sock.recv(min(size, 1 << 20))
        except (OSError, EOFError):
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class CommitCutter:
    def __init__(self, server_port: int, cut: Callable[[], None]) -> None:
        self.server_port = server_port
        self.cut = cut
        self.armed = threading.Event()
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closing = False
        self.cuts = 0
        threading.Thread(target=self._accept, name="commit-cutter", daemon=True).start()

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def arm(self) -> None:
        """Lose the next commit's reply (``done`` is set once it is lost)."""
        self.done.clear()
        self.armed.set()

    def close(self) -> None:
        self.closing = True
        self.listener.close()

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.server_port), timeout=2)
                server.settimeout(None)
            except OSError:
                client.close()  # the server is down: so is this connection
                continue
            commits: set[int] = set()
            for source, target, pump in ((client, server, self._requests),
                                         (server, client, self._replies)):  # fmt: skip
                threading.Thread(target=pump, args=(source, target, commits), daemon=True).start()

    def _requests(self, source: socket.socket, target: socket.socket, commits: set[int]) -> None:
        while (message := read_message(source)) is not None:
            request_id, _, opcode = struct.unpack("<iii", message[4:16])
            if opcode == OP_MSG and message[COMMAND_NAME_AT:].startswith(COMMIT):
                commits.add(request_id)
            if not _send(target, message):
                break
        _close(source, target)

    def _replies(self, source: socket.socket, target: socket.socket, commits: set[int]) -> None:
        while (message := read_message(source)) is not None:
            (responding_to,) = struct.unpack("<i", message[8:12])
            if responding_to in commits and self._disarm():
                self.cut()
                self.cuts += 1
                self.done.set()
                break
            commits.discard(responding_to)
            if not _send(target, message):
                break
        _close(source, target)

    def _disarm(self) -> bool:
        with self.lock:
            armed = self.armed.is_set()
            self.armed.clear()
        return armed


def _send(sock: socket.socket, message: bytes) -> bool:
    try:
        sock.sendall(message)
    except OSError:
        return False
    return True


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
