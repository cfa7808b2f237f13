"""The decisions, on plain header text and bytes: which cookies arrive and leave, which
paths are beacons, which validators may identify a visitor.

Nothing here knows a server interface (WSGI, ASGI, Django): the doors hand these
modules strings and header lists, and act on the answers.
"""
