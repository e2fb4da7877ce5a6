"""Losses shared by the optimisation methods."""
