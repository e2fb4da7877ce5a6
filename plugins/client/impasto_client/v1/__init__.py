"""Generated stubs of the impasto.v1 contract (see protos/generate.py)."""
