"""``python -m consentlib.locale``: compile the shipped catalogues (consentlib.locale.compile)."""
import sys

from consentlib.locale.compile import main

sys.exit(main())
