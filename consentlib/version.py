"""consentlib's version: one source, read by the build (pyproject.toml) and the CLI."""

__version__ = "0.1.0.dev0"
