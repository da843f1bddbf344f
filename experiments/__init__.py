"""Experiment configs (one per paper table) and the runner that reproduces them."""
