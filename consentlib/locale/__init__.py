"""consentlib's message catalogues: gettext ``.po`` sources, compiled to JSON.

``<tag>/LC_MESSAGES/consentlib.po`` holds one language (README.md says how to add one);
``compiled/<tag>.json`` is what the server and the banner load, written by
``python -m consentlib.locale`` (``npm run build`` in js/ runs it too).
"""
