"""Synthetic actions: a skeleton performing each class's sub-motions, rendered to video."""
