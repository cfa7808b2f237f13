"""A change handler for the process tests: appends each change id to the file named by
CONSENTLIB_TEST_CHANGES_FILE (one line, flushed and fsynced before it returns), slowly
enough that a kill -9 lands in the middle of a batch."""
from __future__ import annotations

import os
import time


def record(change: dict) -> None:
    with open(os.environ["CONSENTLIB_TEST_CHANGES_FILE"], "a", encoding="utf-8") as handle:
        handle.write(change["id"] + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    time.sleep(0.005)
