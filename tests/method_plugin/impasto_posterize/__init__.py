"""A third-party impasto method in the smallest form: posterize the layer, tinted by the style's mean colour.

It lives outside impasto and reaches the daemon only through the `impasto.methods` entry point that
tests/test_method_plugins.py registers for it, as a package on PyPI would in its own pyproject.toml:

    [project.entry-points."impasto.methods"]
    posterize = "impasto_posterize:Posterize"
"""

from __future__ import annotations

import torch

from impasto.methods.base import JobContext, Method, MethodInput
from impasto.params import Param


class Posterize(Method):
    name = "posterize"
    title = "Posterize (example plugin)"
    description = "Flattens the layer to a few tones per channel and tints them towards the style's mean colour."
    params = (
        Param("levels", "int", 4, "Tones per channel", 2, 16),
        Param("tint", "float", 0.5, "How far the tones move towards the style's mean colour", 0.0, 1.0),
    )

    def run(self, job: MethodInput, ctx: JobContext) -> torch.Tensor:
        steps = int(job.params["levels"]) - 1
        flat = torch.round(job.content * steps) / steps
        style = job.styles[0].image
        assert style is not None
        tint = float(job.params["tint"])
        ctx.progress("posterize", 1, 1)
        return flat * (1 - tint) + style.mean((2, 3), keepdim=True) * tint


class BadSchema(Posterize):
    """Declares a parameter whose default lies outside its own range: the daemon must skip it."""

    name = "bad_schema"
    params = (Param("levels", "int", 40, "Tones per channel", 2, 16),)
