"""Seconds per site of ``consentlib audit`` over the audit corpus, served on 127.0.0.1.

    python bench/audit.py

Budget: ``<= 12 s`` a site on average. Each site is audited as a user would run the
command, with its defaults (three pages, ``--timeout 15``, a new Chromium for each
site, and a second one when a name must be judged by its value): the figure includes
starting the browsers, which is most of the cost on sites this small. The corpus is
``tests/support/audit_corpus.py``: every careless site, the two frames of another site
(served on ``localhost``), and the clean ones. Wall time, one run of each site.
"""
from __future__ import annotations

import contextlib
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (python bench/audit.py): make the checkout importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUDGET_SECONDS = 12.0


@contextmanager
def _corpus() -> Iterator[list[tuple[str, str, int]]]:
    """(name, URL, the exit code it must get) of every corpus site, all served until exit."""
    from consentlib.testing.server import serve_wsgi
    from tests.support import audit_corpus

    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as directory:
        serve: Callable[..., str] = lambda app, host="127.0.0.1": stack.enter_context(serve_wsgi(app, host))
        sites = [(name, serve(app) + "/", 1) for name, (app, _, _) in audit_corpus.CARELESS.items()]
        widget = serve(audit_corpus.widget_app, "localhost")
        sites.append(("iframe-of-another-site", serve(audit_corpus.site_embedding(widget + "/chat")) + "/", 1))
        sites.append(("beacon-from-a-frame", serve(audit_corpus.site_embedding(widget + "/stats")) + "/", 1))
        sites.append(("onetrust-clean", serve(audit_corpus.onetrust_site) + "/", 0))
        sites.append(("nothing-to-consent-to", serve(audit_corpus.nothing_to_consent_to) + "/", 0))
        sites.append(("consentlib-sessionid", serve(audit_corpus.sessionid_site(f"sqlite:///{directory}/c.db")) + "/",
                      0))
        yield sites


def available() -> str:
    """Why the audit cannot run here (no selenium, no Chromium), or "" when it can."""
    import importlib.util
    import os

    from consentlib.testing.browser import CHROMEDRIVER, CHROMIUM

    if importlib.util.find_spec("selenium") is None:
        return "(selenium missing: the testing extra)"
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        return f"(no Chromium at {CHROMIUM} or chromedriver at {CHROMEDRIVER})"
    return ""


def measure() -> dict:
    """Seconds each corpus site took; raises when a site got another exit code than it must."""
    from consentlib.testing.command import run_audit_command

    seconds: dict[str, float] = {}
    wrong = []
    with _corpus() as sites:
        for name, url, expected in sites:
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                code = run_audit_command(url)
            seconds[name] = time.perf_counter() - started
            if code != expected:
                wrong.append(f"{name} exited {code}, not {expected}")
    if wrong:
        raise RuntimeError("The audit got the corpus wrong: " + "; ".join(wrong))
    return {"average": statistics.mean(seconds.values()), "slowest": max(seconds.items(), key=lambda kv: kv[1]),
            "sites": seconds}


def main() -> int:
    result = measure()
    for name, spent in result["sites"].items():
        print(f"{name:28} {spent:5.1f} s")
    average = result["average"]
    print(f"average {average:.1f} s a site over {len(result['sites'])} sites (budget <= {BUDGET_SECONDS:g} s)")
    return 0 if average <= BUDGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
