"""`uv run python -m bench`: every measurement, written to bench/RESULTS.md (see bench/run.py)."""

import sys

from bench.run import main

sys.exit(main())
