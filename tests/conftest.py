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


@pytest.fixture
def live_site(live_server):
    """Call with an instance folder (and create_app options): the reference site on a real
    server, built knowing its own URL (it mails links to it); returns (app, url)."""

    def start(instance, **options):
        from examples.flask_site import create_app

        holder = {}
        url = live_server(lambda environ, start_response: holder["app"](environ, start_response))
        holder["app"] = create_app(instance, site_url=url, **options)
        return holder["app"], url

    return start

