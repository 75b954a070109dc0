"""STI-Bench: its rows and its official scoring."""
