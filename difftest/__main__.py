"""`python -m ptediff ...` is the `ptediff` command."""

import sys

from ptediff.cli import main

sys.exit(main())
