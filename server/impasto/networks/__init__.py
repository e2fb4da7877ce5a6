"""Feed-forward and feature networks, ported to plain torch modules."""
