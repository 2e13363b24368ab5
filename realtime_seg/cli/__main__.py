"""``python -m realtime_seg.cli``: the same as the ``realtime-seg`` console script."""

import sys

from realtime_seg.cli import main

sys.exit(main())
