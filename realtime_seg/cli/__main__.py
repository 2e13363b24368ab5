"""``python -m realtime_seg.cli``."""

import sys

from realtime_seg.cli import main

sys.exit(main())
