"""The matting Laplacian against Levin et al.'s formula entry by entry, its algebraic properties, and the
photorealism loss: free for affine recolourings, costly for noise and scrambling, gradient 2·L·v."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from impasto.errors import InvalidInput
from impasto.numerics.matting import PhotorealismLoss, matting_laplacian

from .conftest import scene

# A colour matrix with a negative entry and an offset: a strong but global, hence photorealistic, recolouring.
MATRIX = torch.tensor([[0.6, 0.3, 0.1], [0.1, 0.5, 0.2], [0.3, -0.2, 0.9]])
OFFSET = torch.tensor([0.05, -0.1, 0.1]).view(1, 3, 1, 1)


def to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255.0


def recolour(image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", MATRIX.to(image), image) + OFFSET.to(image)


def dense_laplacian(image: torch.Tensor, eps: float, radius: int) -> torch.Tensor:
    """Levin et al. 2008, eq. 12, literally: for every window wholly inside the image and every pair i, j in it,
    L_ij += δ_ij − (1 + (I_i − μ)ᵀ (Σ + ε/|w|·I₃)⁻¹ (I_j − μ)) / |w|."""
    pixels = image[0].permute(1, 2, 0).double()
    height, width = pixels.shape[:2]
    size = (2 * radius + 1) ** 2
    laplacian = torch.zeros(height * width, height * width, dtype=torch.float64)
    for cy in range(radius, height - radius):
        for cx in range(radius, width - radius):
            members = [(y, x) for y in range(cy - radius, cy + radius + 1) for x in range(cx - radius, cx + radius + 1)]
            colours = torch.stack([pixels[y, x] for y, x in members])
            mean = colours.mean(0)
            covariance = (colours - mean).t() @ (colours - mean) / size
            inverse = torch.linalg.inv(covariance + eps / size * torch.eye(3, dtype=torch.float64))
            for a, (ya, xa) in enumerate(members):
                for b, (yb, xb) in enumerate(members):
                    affinity = (colours[a] - mean) @ inverse @ (colours[b] - mean)
                    laplacian[ya * width + xa, yb * width + xb] += float(a == b) - (1 + affinity) / size
    return laplacian


def random_image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("height", "width", "eps", "radius"), [(6, 5, 1e-7, 1), (7, 6, 1e-3, 2), (5, 5, 1e-2, 1)])
def test_matches_levins_formula_entry_by_entry(height: int, width: int, eps: float, radius: int) -> None:
    image = random_image(height, width)
    reference = dense_laplacian(image, eps, radius)
    exact = matting_laplacian(image, eps, radius, dtype=torch.float64).to_dense()
    stored = matting_laplacian(image, eps, radius).to_dense().double()
    scale = reference.abs().max()
    assert (exact - reference).abs().max() <= 1e-10 * scale
    assert (stored - reference).abs().max() <= 1e-5 * scale  # float32 storage of float64 arithmetic


def test_grey_image_with_singular_colour_covariance_is_still_exact() -> None:
    # R = G = B makes every window's Σ rank 1: only ε/|w| = 1.1e-8 keeps it invertible.
    grey = random_image(6, 5).mean(1, keepdim=True).expand(-1, 3, -1, -1)
    reference = dense_laplacian(grey, 1e-7, 1)
    built = matting_laplacian(grey, dtype=torch.float64).to_dense()
    assert torch.isfinite(built).all()
    assert (built - reference).abs().max() <= 1e-6 * reference.abs().max()


def test_symmetric_rows_sum_to_zero_and_positive_semidefinite() -> None:
    laplacian = matting_laplacian(random_image(6, 5, seed=3), dtype=torch.float64).to_dense()
    assert torch.equal(laplacian, laplacian.t())
    assert laplacian.sum(1).abs().max() < 1e-9
    # numpy's LAPACK: torch's threaded eigvalsh takes seconds on a busy 2-core machine.
    assert np.linalg.eigvalsh(laplacian.numpy()).min() >= -1e-6
    # The same on a photo-like picture, through the float32 matrix the loss uses.
    photo = matting_laplacian(to_tensor(scene(16, 15))).to_dense().double()
    assert torch.equal(photo, photo.t())
    assert photo.sum(1).abs().max() < 1e-5
    assert np.linalg.eigvalsh(photo.numpy()).min() >= -1e-4


def test_every_pixel_pairs_with_its_5x5_neighbourhood_only() -> None:
    height, width = 11, 9
    laplacian = matting_laplacian(random_image(height, width))
    # Pairs (i, i+o) inside the image for |o| ≤ 2 per axis: Σ_o (n − |o|) = 5n − 6 per axis.
    assert laplacian.values().numel() == (5 * height - 6) * (5 * width - 6)
    rows = torch.arange(height * width).repeat_interleave(laplacian.crow_indices().diff())
    cols = laplacian.col_indices().long()
    assert ((rows // width - cols // width).abs() <= 2).all() and ((rows % width - cols % width).abs() <= 2).all()


def test_affine_recolouring_is_free_while_noise_and_scrambling_cost() -> None:
    content = to_tensor(scene(48, 48))
    loss = PhotorealismLoss(content)
    noise = 0.02 * torch.randn(content.shape, generator=torch.Generator().manual_seed(1))
    scrambled = content.flatten(2)[..., torch.randperm(48 * 48, generator=torch.Generator().manual_seed(2))]
    free = float(loss(recolour(content)))
    noisy = float(loss(content + noise))
    shuffled = float(loss(scrambled.view_as(content)))
    assert abs(float(loss(content))) < 1e-2
    assert abs(free) < 1e-2
    assert noisy > 1.0 and noisy > 1000 * abs(free)
    assert shuffled > 50 * noisy


def test_autograd_gradient_is_twice_laplacian_times_image() -> None:
    content = to_tensor(scene(20, 24))
    output = (content + 0.05 * torch.randn(content.shape, generator=torch.Generator().manual_seed(4))).clamp(0, 1)
    loss = PhotorealismLoss(content)
    dense = loss.laplacian.to_dense()
    channels = output.reshape(3, -1).t()
    expected = (2 * dense @ channels).t().reshape(output.shape)

    x = output.clone().requires_grad_(True)
    value = loss(x)
    value.backward()
    assert torch.allclose(value.detach(), (channels * (dense @ channels)).sum(), rtol=1e-5)
    assert torch.allclose(x.grad, expected, atol=1e-5)
    assert torch.allclose(loss.gradient(output), expected, atol=1e-5)

    mean = PhotorealismLoss(content, reduction="mean")
    y = output.clone().requires_grad_(True)
    mean(y).backward()
    pixels = 20 * 24
    assert torch.allclose(mean(output), value.detach() / pixels, rtol=1e-5)
    assert torch.allclose(y.grad, expected / pixels, atol=1e-7)


def test_gradient_descent_on_the_loss_removes_texture_but_keeps_a_recolouring() -> None:
    # What the regulariser does inside the photo method: pull the output back to the content's structure.
    content = to_tensor(scene(32, 32))
    loss = PhotorealismLoss(content)
    noisy = recolour(content) + 0.05 * torch.randn(content.shape, generator=torch.Generator().manual_seed(5))
    x = noisy.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=0.02)
    start = float(loss(noisy))
    for _ in range(20):
        optimiser.zero_grad()
        loss(x).backward()
        optimiser.step()
    assert float(loss(x.detach())) < 0.1 * start
    # Still the recoloured picture, not the original: the recolouring costs nothing, so it is kept.
    assert (x.detach() - recolour(content)).square().mean() < 0.5 * (noisy - recolour(content)).square().mean()
    assert (x.detach() - recolour(content)).square().mean() < (x.detach() - content).square().mean()


def test_wrong_shapes_and_tiny_images_are_refused() -> None:
    with pytest.raises(InvalidInput, match="too small"):
        matting_laplacian(random_image(2, 8))
    with pytest.raises(ValueError, match=r"\[1,3,H,W\]"):
        matting_laplacian(torch.rand(3, 8, 8))
    loss = PhotorealismLoss(random_image(8, 8))
    with pytest.raises(ValueError, match="differs"):
        loss(random_image(8, 9))
    with pytest.raises(ValueError, match="reduction"):
        PhotorealismLoss(random_image(8, 8), reduction="max")  # type: ignore[arg-type]
