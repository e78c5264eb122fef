"""``python -m lifecircle``: the command line."""

import sys

from lifecircle.apps.cli import main

sys.exit(main())
