"""Training: one loop (loop.py) for every kind of model impasto learns, each kind a small Trainer composed of the
shared networks and losses; the daemon runs it as a job on the same queue as stylizing."""
