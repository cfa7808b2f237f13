"""One GET through an ASGI app with asgiref's ``ApplicationCommunicator``: Django's ASGI
handler driven without a server."""
from __future__ import annotations


async def asgi_get(app, path: str = "/", headers=()):
    """``(status, [(lower-case name, value)], body)`` of ``GET path`` with ``headers`` (bytes pairs)."""
    from asgiref.testing import ApplicationCommunicator

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 5000),
             "server": ("testserver", 80)}
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(10)
    body = b""
    while True:
        message = await communicator.receive_output(10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    return start["status"], [(k.decode().lower(), v.decode("latin-1")) for k, v in start["headers"]], body
