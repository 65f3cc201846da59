"""`python -m poselift` runs the command line."""

import sys

from poselift.cli import main

sys.exit(main())
