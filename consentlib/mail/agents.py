"""Who is asking: a person's browser, a crawler, a mail proxy or a link scanner.

Built on the ``user-agents`` package; parsing is cached because the same few agent
strings make up most traffic.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Protocol

from user_agents import parse as _parse


class Family(Protocol):
    """A browser's or an operating system's name and version, as ``user-agents`` reads them."""

    @property
    def family(self) -> str: ...

    @property
    def version_string(self) -> str: ...


class Agent(Protocol):
    """What consentlib reads of a parsed ``User-Agent`` (``user_agents.parsers.UserAgent``,
    which ships no types)."""

    @property
    def is_bot(self) -> bool: ...

    @property
    def browser(self) -> Family: ...

    @property
    def os(self) -> Family: ...


@lru_cache(maxsize=1024)
def parse_agent(header: str) -> Agent:
    agent: Agent = _parse(header)
    return agent


def is_crawler(header: str | None) -> bool:
    """Search engines and other bots: they get no banner and stay undecided."""
    if not header:
        return False
    return bool(parse_agent(header[:512]).is_bot)


# -- email: opens and clicks that are not a person's (docs/rules.md, "Email") ------------------------

# Image proxies fetch a mail's images on delivery or display, for the mailbox provider,
# not when (or whether) a person reads it. Apple Mail Privacy Protection's proxy sends a
# bare "Mozilla/5.0"; Gmail's says GoogleImageProxy, Yahoo's YahooMailProxy. User agents
# only: Apple does not publish its proxies' addresses in a form we can verify here.
_MAIL_PROXY_MARKERS = ("GoogleImageProxy", "YahooMailProxy")
_APPLE_MPP_AGENT = "Mozilla/5.0"
# HTTP libraries that gateways and security scanners use to vet links; a person's mail
# client does not follow links with them.
_LIBRARY_MARKERS = ("curl/", "wget/", "python-requests", "python-urllib", "go-http-client", "java/",
                    "libwww-perl", "okhttp", "apache-httpclient", "aiohttp", "httpx")
SCANNER_CLICK_SECONDS = 10.0  # a click this soon after sending is a gateway vetting the link


def is_mail_proxy(user_agent: str | None) -> bool:
    """Apple's, Google's or Yahoo's mail image proxy."""
    if not user_agent:
        return False
    agent = user_agent.strip()
    return agent == _APPLE_MPP_AGENT or any(marker in agent for marker in _MAIL_PROXY_MARKERS)


def _is_automated(user_agent: str) -> bool:
    lowered = user_agent.lower()
    return any(marker in lowered for marker in _LIBRARY_MARKERS) or bool(parse_agent(user_agent).is_bot)


def classify_mail_open(user_agent: str | None) -> str:
    """``"machine"`` for a mail proxy's or a robot's fetch of an open pixel, else ``"human"``.

    A fetch without a user agent is a machine's: every mail client sends one.
    """
    if not user_agent:
        return "machine"
    agent = user_agent[:512]
    if is_mail_proxy(agent) or _is_automated(agent):
        return "machine"
    return "human"


def classify_mail_click(
    user_agent: str | None, *, sent_at: float, now: float, quick: float = SCANNER_CLICK_SECONDS
) -> str:
    """``"scanner"`` for a link scanner's click, else ``"human"``.

    Scanners: no user agent, a robot or HTTP library, a mail proxy, or a click less than
    ``quick`` seconds after the mail was prepared (nobody reads that fast; security
    gateways vet links on delivery). A click on every link of a mail at once is caught
    afterwards, from the stored clicks (see ``consentlib.mail.endpoints``).
    """
    if not user_agent:
        return "scanner"
    agent = user_agent[:512]
    if is_mail_proxy(agent) or _is_automated(agent):
        return "scanner"
    if now - sent_at < quick:
        return "scanner"
    return "human"
