"""Heavy numerical building blocks that know nothing of gRPC or methods: matting, local affine models,
PatchMatch, neural patches and feature statistics."""
