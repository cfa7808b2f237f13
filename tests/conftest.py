from __future__ import annotations

import pytest

from consentlib.testing.server import serve_wsgi


@pytest.fixture
def live_server():
    """Call with a WSGI app; returns the base URL of a real server on 127.0.0.1:0."""
    stack = []

    def start(app) -> str:
        cm = serve_wsgi(app)
        url = cm.__enter__()
        stack.append(cm)
        return url

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)
