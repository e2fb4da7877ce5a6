"""The weights of Gatys et al.'s perceptual objective, named and scaled once for every user of it: `gatys`
optimises pixels for it, and the trainers teach feed-forward networks to meet it in one pass."""

from __future__ import annotations

from ..params import Param

DEFAULT_STYLE_LAYERS = "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1"
# The weights of the objective, shared by `gatys` (which optimises pixels for it) and the trainers.
WEIGHT_PARAMS = (
    Param("content_weight", "float", 5.0, "How strongly the content's layout is kept", 0.0, 1e6),
    Param("style_weight", "float", 100.0, "How strongly the style's texture is imposed", 0.0, 1e9),
    Param("tv_weight", "float", 0.01, "Smoothness: suppresses pixel noise", 0.0, 1e6),
    Param("content_layers", "string", "relu4_2", "VGG19 layers for the content, with optional :weight"),
    Param("style_layers", "string", DEFAULT_STYLE_LAYERS, "VGG19 layers for the style, with optional :weight"),
)
