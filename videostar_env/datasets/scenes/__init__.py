"""Synthetic multi-object scenes and their spatio-temporal questions."""
