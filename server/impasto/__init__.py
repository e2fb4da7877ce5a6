"""impasto: neural style transfer daemon for painters and photographers."""

import os as _os

__version__ = "0.1.0"

# impasto says what went wrong in one sentence; grpc's core would print its own INFO lines to the same stderr (a
# failed TLS handshake, say). It reads this when it is first imported, which is after this package. A user's own
# setting wins.
_os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

# OpenMP threads that spin while they wait for work are a little faster on an idle machine and ten times slower or
# worse on a busy one (the editor, a training run, a browser): a spinning thread holds the core the thread it waits
# for needs. Measured in docs/benchmarks.md ("Threads that sleep"). libgomp reads this once, when torch loads.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
