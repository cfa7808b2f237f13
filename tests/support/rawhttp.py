"""HTTP/1.1 over a plain socket: the exact bytes, in both directions, nothing normalised.

``http.client`` and browsers both clean up what they send and read (they merge or
refuse odd header lines, resolve ``..`` in paths); a test that must see what crossed
the wire, or send a path exactly as an attacker would, uses these instead.
"""
from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit

from tests.support.chromium_headers import end_of_head


def exchange(base: str, target: str, *, method: str = "GET", headers: Mapping[str, str] = (),
             timeout: float = 10) -> bytes:
    """Send one request for ``target`` (sent as given) to ``base``; return every byte of the answer."""
    parts = urlsplit(base)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close",
             *(f"{name}: {value}" for name, value in dict(headers).items())]
    if method == "POST":
        lines.append("Content-Length: 0")
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


class _Responder(socketserver.BaseRequestHandler):
    server: _RawServer

    def handle(self) -> None:
        data = b""
        while end_of_head(data) == -1:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        request_line, _, rest = data.partition(b"\r\n")
        path = request_line.split(b" ")[1].decode("latin-1") if request_line.count(b" ") >= 2 else ""
        with self.server.lock:
            self.server.requests.append((path, rest[:end_of_head(rest)].decode("latin-1")))
        answer = self.server.responses.get(path.split("?", 1)[0])
        if answer is None:
            answer = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        self.request.sendall(answer)


class _RawServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Responder)
        self.lock = threading.Lock()
        self.responses: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []  # (target, the head's header lines)

    def request_heads(self, path: str) -> list[dict[str, str]]:
        """The headers of each request for ``path`` so far (lower-case names)."""
        with self.lock:
            heads = [head for target, head in self.requests if target.split("?", 1)[0] == path]
        return [{name.strip().lower(): value.strip()
                 for name, _, value in (line.partition(":") for line in head.split("\r\n") if line)}
                for head in heads]


@contextmanager
def raw_server() -> Iterator[tuple[str, _RawServer]]:
    """A server on 127.0.0.1:0 that answers ``server.responses[path]`` byte for byte
    (and closes), and records every request head; yields (base URL, server)."""
    server = _RawServer()
    thread = threading.Thread(target=server.serve_forever, name="raw-http-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def response(header_lines: list[bytes], body: bytes = b"<!doctype html><title>t</title><p>ok</p>",
             status: bytes = b"200 OK") -> bytes:
    """A whole response: ``header_lines`` between the status line and the framing headers."""
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html\r\n" + b"".join(line + b"\r\n" for line in header_lines)
            + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
