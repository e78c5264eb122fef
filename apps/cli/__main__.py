"""``python -m lifecircle.apps.cli``: the command line (``python -m lifecircle`` does the same)."""

import sys

from lifecircle.apps.cli import main

sys.exit(main())
