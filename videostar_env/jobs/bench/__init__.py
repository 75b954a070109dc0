"""Benchmarks of agents: planned episodes, resumable results, metrics, plots and an HTML report."""

from .plan import EpisodePlan, PlannedEpisodes
from .results import ResultsLog
from .metrics import compute_metrics
from .reference import load_references
from .runner import BenchConfig, BenchError, plan_parts, planned_rows, run_bench, write_outputs

__all__ = ["BenchConfig", "BenchError", "EpisodePlan", "PlannedEpisodes", "ResultsLog", "compute_metrics",
           "load_references", "plan_parts", "planned_rows", "run_bench", "write_outputs"]
