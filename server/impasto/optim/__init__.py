"""Image optimisation shared by the optimisation-based methods."""
