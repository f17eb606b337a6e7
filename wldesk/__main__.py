import sys

from wldesk.cli import main

sys.exit(main())
