"""`python -m difftest ...` is the `ptediff` command."""

import sys

from difftest.cli import main

sys.exit(main())
