"""Pixels in and out: wire images ↔ tensors, masks, colour, files, label maps and resampling."""
