"""python -m videostar_benchmarks.perf: see the package docstring."""

from . import main

raise SystemExit(main())
