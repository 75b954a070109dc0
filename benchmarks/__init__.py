"""Accuracy protocols and speed benchmarks, run as `python -m benchmarks.<name>`."""
