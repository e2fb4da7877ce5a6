"""impasto: neural style transfer daemon for painters and photographers."""

__version__ = "0.1.0"
