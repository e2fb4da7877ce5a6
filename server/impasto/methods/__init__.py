"""Style-transfer methods: each a schema and a run(); found by entry point (see registry.py)."""
