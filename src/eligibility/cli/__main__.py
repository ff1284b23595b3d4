"""`python -m eligibility.cli` runs the command line, like `python -m eligibility`."""

import sys

from eligibility.cli import main

sys.exit(main())
