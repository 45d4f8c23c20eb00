"""Log changes, not repeats: a trouble is logged once when it starts, once when it ends.

A source that fails every second, a disk that stays full, a device that stays away:
each would fill the journal with the same line. `Trouble` keeps the one flag each of
them needs, and says "… works again" when it clears.
"""

from __future__ import annotations

import logging
from typing import Any


class Trouble:
    """One kind of trouble of one part (`what`: "writing the frame"), logged on changes."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._log = logger
        self.what = what
        self.is_on = False

    def happened(self, message: str, *args: Any, exc_info: BaseException | bool | None = None,
                 level: int = logging.ERROR) -> bool:
        """Log `message` if the trouble just began; True if it did."""
        if self.is_on:
            return False
        self.is_on = True
        self._log.log(level, message, *args, exc_info=exc_info)
        return True

    def cleared(self, message: str | None = None, *args: Any) -> bool:
        """Log that it works again (or `message`) if the trouble was on; True if it was."""
        if not self.is_on:
            return False
        self.is_on = False
        if message is None:
            self._log.info("%s works again", self.what)
        else:
            self._log.info(message, *args)
        return True
