"""The consent endpoints of the HTTP contract (docs/http.md) and what they render:
pages, templates, message catalogues, the banner's assets and tags."""
