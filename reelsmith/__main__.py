"""``python -m reelsmith`` is the CLI."""

import sys

from reelsmith.cli import main

sys.exit(main())
