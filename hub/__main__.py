"""`python -m hub` is `divoom-hub`."""

import sys

from hub.cli import main

sys.exit(main())
