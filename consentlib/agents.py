"""Who is asking: a person's browser, a crawler, a mail proxy or a link scanner.

Built on the ``user-agents`` package; parsing is cached because the same few agent
strings make up most traffic.
"""
from __future__ import annotations

from functools import lru_cache

from user_agents import parse as _parse


@lru_cache(maxsize=1024)
def parse_agent(header: str):
    return _parse(header)


def is_crawler(header: str | None) -> bool:
    """Search engines and other bots: they get no banner and stay undecided."""
    if not header:
        return False
    return bool(parse_agent(header[:512]).is_bot)
