"""`python -m videostar_env.cli`: the `videostar` command."""

import sys

from .main import main

sys.exit(main())
