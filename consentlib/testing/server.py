"""A real WSGI server on 127.0.0.1 in a background thread, for end-to-end tests."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from werkzeug.serving import make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from uvicorn._types import ASGIApplication


@contextmanager
def serve_wsgi(app: WSGIApplication, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a free port of ``host``; yield its base URL; stop on exit."""
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="consentlib-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def serve_asgi(app: ASGIApplication, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the ASGI ``app`` under uvicorn on a free port of ``host``; yield its base URL.

    Needs uvicorn. The socket is bound before the server starts, so the URL is known and
    connectable at once; the server is stopped (and its thread joined) on exit.
    """
    import socket
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="consentlib-asgi-server",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:  # a condition, bounded: uvicorn sets it once it serves
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start serving within 30 seconds")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
