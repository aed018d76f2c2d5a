import sys

from reelsmith.cli import main

sys.exit(main())
