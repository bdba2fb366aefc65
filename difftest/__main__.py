"""`python -m ptediff ...` is the `ptediff` command."""

import sys

from ptediff.console import main

sys.exit(main())
