"""Entry point of the console ``wldesk-cli`` executable of the bundle (serve, check, selftest, ...).

``selftest`` and the installers' ``machine-setup`` are dispatched here, so the bundle has them
whatever ``wldesk.cli`` knows; every other command goes to ``wldesk.cli.main``.
"""

import sys


def _main() -> int:
    command = sys.argv[1:2]
    if command == ["selftest"]:
        from wldesk.selftest import run

        return run()
    if command == ["machine-setup"]:
        from wldesk.machine_setup import main as machine_setup

        return machine_setup(sys.argv[2:])
    from wldesk.cli import main

    return main()


sys.exit(_main())
