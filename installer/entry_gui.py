"""Entry point of the windowed ``wldesk`` executable of the bundle (tray GUI; same commands as ``wldesk``)."""

import os
import sys

# A windowed Windows executable has no console: give Python somewhere to write.
for _name in ("stdout", "stderr"):
    if getattr(sys, _name) is None:
        setattr(sys, _name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115

from wldesk.cli import main  # noqa: E402 (after the stream set-up)

sys.exit(main())
