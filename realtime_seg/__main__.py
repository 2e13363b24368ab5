"""``python -m realtime_seg``."""

import sys

from realtime_seg.cli import main

sys.exit(main())
