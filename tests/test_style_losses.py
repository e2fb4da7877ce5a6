"""The MMD, mean/std and histogram style statistics: exact against references on tiny tensors, and
optimising through the real daemon with gatys's style_loss parameter."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import numpy as np
import pytest
import torch

from impasto.imaging.imagefiles import read_image
from impasto.imaging.pixels import image_to_tensor
from impasto.imaging.resample import resize
from impasto.losses.gram import Gram
from impasto.losses.histogram import Histogram, remap
from impasto.losses.mmd import GaussianKernel, Kernel, LinearKernel, Mmd, PolynomialKernel
from impasto.losses.perceptual import DEFAULT_STYLE_LAYERS
from impasto.losses.style import PULL, STATISTICS, StyleLoss, parse_style_loss, style_targets
from impasto.networks.vgg import LAYER_NAMES, load_vgg19, parse_layers
from impasto.samples import SAMPLES
from impasto_client import Client, Image, ImpastoError, Layout, SampleType

from .conftest import as_array, rgb_image, scene, stripes

NEW = ("mmd", "mmd_linear", "mmd_poly", "bn", "histogram")


def relu_like(seed: int, channels: int = 8, height: int = 6, width: int = 6, shift: float = 0.0) -> torch.Tensor:
    """[1,C,H,W] non-negative, correlated features with some exact zeros, as VGG ReLUs give."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(channels, channels, generator=g)
    raw = torch.einsum("dc,chw->dhw", mixing, torch.randn(channels, height, width, generator=g))
    return (raw + shift).clamp_min(0)[None]


def left_half(height: int, width: int) -> torch.Tensor:
    guide = torch.zeros(1, 1, height, width)
    guide[..., : width // 2] = 1
    return guide


@pytest.mark.parametrize("name", NEW)
def test_zero_for_the_same_statistics_and_positive_for_others(name: str) -> None:
    stat = STATISTICS[name]()
    style, other = relu_like(0), relu_like(1, shift=1.0)
    target = stat.target(style, None)
    same = stat.loss(style, None, target)
    x = other.clone().requires_grad_(True)
    different = stat.loss(x, None, target)
    different.backward()
    assert float(different.detach()) > 1e-2
    assert abs(float(same)) < 1e-4 * float(different.detach())
    assert x.grad is not None and bool(torch.isfinite(x.grad).all()) and float(x.grad.abs().sum()) > 0


def test_histogram_remap_is_exact_rank_matching() -> None:
    rng = np.random.default_rng(0)
    output, style = rng.normal(size=(3, 50)), rng.gamma(2.0, size=(3, 50))
    target = Histogram(points=50).target(torch.from_numpy(style.reshape(1, 3, 5, 10)), None)
    matched = remap(torch.from_numpy(output), target).numpy()
    # Equal sizes: the output's k-th smallest value becomes the style's k-th smallest.
    expected = np.empty_like(output)
    for c in range(3):
        expected[c, np.argsort(output[c])] = np.sort(style[c])
    np.testing.assert_allclose(matched, expected, rtol=1e-12)
    # Fewer output values: each takes the style's quantile (linear interpolation) at its rank.
    small = output[:, :20]
    matched = remap(torch.from_numpy(small), target).numpy()
    for c in range(3):
        ranks = np.argsort(np.argsort(small[c])) / 19
        np.testing.assert_allclose(matched[c], np.quantile(style[c], ranks), rtol=1e-12)


def test_histogram_loss_is_the_distance_to_the_remapped_output() -> None:
    x, style = relu_like(2).double(), relu_like(3, shift=0.5).double()
    stat = Histogram(points=36)
    values = x[0].reshape(8, -1)
    expected = (values - remap(values, stat.target(style, None))).square().mean()
    assert float(stat.loss(x, None, stat.target(style, None))) == pytest.approx(float(expected), rel=1e-12)


def test_polynomial_mmd_is_the_gram_loss_blends_included() -> None:
    poly, gram = STATISTICS["mmd_poly"](), Gram()
    x, a, b = relu_like(4, 16, 8, 8).double(), relu_like(5, 16, 8, 8).double(), relu_like(6, 16, 8, 8, 0.5).double()
    for stat_targets in ([a], [a, b]):
        weights = [1.0] if len(stat_targets) == 1 else [0.3, 0.7]
        mmd_target = poly.blend([poly.target(s, None) for s in stat_targets], weights)
        gram_target = gram.blend([gram.target(s, None) for s in stat_targets], weights)
        expected = float(gram.loss(x, None, gram_target))
        assert expected > 0
        assert float(poly.loss(x, None, mmd_target)) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("kernel", "definition"),
    [
        (LinearKernel(), lambda x, y, b: x @ y.t()),
        (PolynomialKernel(1.5), lambda x, y, b: (x @ y.t() + 1.5) ** 2),
        (GaussianKernel(), lambda x, y, b: torch.exp(-(x[:, None] - y[None]).square().sum(-1) / (2 * b))),
    ],
)
def test_kernel_sums_and_their_gradients_follow_the_definition(kernel: Kernel, definition: Callable) -> None:
    g = torch.Generator().manual_seed(17)
    x0, y = torch.randn(30, 5, generator=g, dtype=torch.float64), torch.randn(20, 5, generator=g, dtype=torch.float64)
    mix = torch.rand(20, 2, generator=g, dtype=torch.float64)
    x, reference = x0.clone().requires_grad_(True), x0.clone().requires_grad_(True)
    ours, theirs = kernel.sums(x, y, mix, 3.0), definition(reference, y, 3.0) @ mix
    torch.testing.assert_close(ours, theirs)
    upstream = torch.randn(30, 2, generator=g, dtype=torch.float64)
    torch.testing.assert_close(*torch.autograd.grad([ours, theirs], [x, reference], [upstream, upstream]))


def test_linear_mmd_matches_the_means() -> None:
    x, s = relu_like(7), relu_like(8, shift=0.3)
    stat = STATISTICS["mmd_linear"]()
    expected = (x.mean((2, 3)) - s.mean((2, 3))).square().mean()
    assert float(stat.loss(x, None, stat.target(s, None))) == pytest.approx(float(expected), rel=1e-5)


def brute_gaussian_mmd(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """The paper's Gaussian MMD² over all pairs, σ² the style's mean squared pairwise distance, scaled σ²/C."""
    fx, fs = x[0].flatten(1).t(), s[0].flatten(1).t()

    def squared(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a[:, None] - b[None]).square().sum(-1)

    sigma2 = squared(fs, fs).mean()

    def k(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.exp(-squared(a, b) / (2 * sigma2)).mean()

    return (k(fx, fx) + k(fs, fs) - 2 * k(fx, fs)) * sigma2 / x.shape[1]


def test_gaussian_mmd_value_and_gradient_are_exact_when_small() -> None:
    x0, s = relu_like(9).double(), relu_like(10, shift=0.5).double()
    stat = STATISTICS["mmd"]()
    x = x0.clone().requires_grad_(True)
    value = stat.loss(x, None, stat.target(s, None))
    (grad,) = torch.autograd.grad(value, x)
    y = x0.clone().requires_grad_(True)
    reference = brute_gaussian_mmd(y, s)
    (expected,) = torch.autograd.grad(reference, y)
    assert float(value.detach()) == pytest.approx(float(reference.detach()), rel=1e-9)
    torch.testing.assert_close(grad, expected, rtol=1e-7, atol=1e-12)


def test_subsampled_mmd_is_deterministic_and_reaches_every_position() -> None:
    stat = Mmd(GaussianKernel(), style_samples=32, anchors=32)
    s = relu_like(11, height=20, width=20, shift=0.5)
    target = stat.target(s, None)
    assert target.samples.shape[0] == 32
    x = relu_like(12, height=20, width=20).requires_grad_(True)
    first = stat.loss(x, None, target)
    (grad,) = torch.autograd.grad(first, x)
    assert float(stat.loss(x, None, target).detach()) == float(first.detach())
    assert bool((grad.abs().sum(1) > 0).all()), "some positions got no gradient"
    # It pulls the way the exact loss does: sampling 32 of 400 positions keeps what is measured.
    exact = Mmd(GaussianKernel(), style_samples=400, anchors=400)
    (exact_grad,) = torch.autograd.grad(exact.loss(x, None, exact.target(s, None)), x)
    assert float(torch.nn.functional.cosine_similarity(grad.flatten(), exact_grad.flatten(), 0)) > 0.7


def test_bn_target_of_a_guided_half_is_that_half_alone() -> None:
    s = relu_like(13, height=6, width=8)
    target = STATISTICS["bn"]().target(s, left_half(6, 8))
    half = s[..., :4]
    torch.testing.assert_close(target.mean.flatten(), half.mean((0, 2, 3)))
    torch.testing.assert_close(target.std.flatten(), (half.var((0, 2, 3), unbiased=False) + 1e-5).sqrt())


def test_histogram_target_of_a_guided_half_is_that_half_alone() -> None:
    stat = Histogram(points=24)
    s = relu_like(14, height=6, width=8)
    target = stat.target(s, left_half(6, 8))
    torch.testing.assert_close(target, s[..., :4].reshape(8, 24).sort(1).values)


@pytest.mark.parametrize("name", NEW)
def test_guided_loss_is_the_loss_of_the_guided_half(name: str) -> None:
    stat = STATISTICS[name]()
    x, s = relu_like(15, height=6, width=8), relu_like(16, height=6, width=8, shift=0.5)
    guide = left_half(6, 8)
    guided = stat.loss(x, guide, stat.target(s, guide))
    alone = stat.loss(x[..., :4], None, stat.target(s[..., :4], None))
    assert float(guided) > 0
    assert float(guided) == pytest.approx(float(alone), rel=1e-4)


@pytest.mark.parametrize("name", NEW)
def test_gatys_optimises_each_style_loss(client: Client, name: str) -> None:
    losses: list[float] = []
    params = {"size": 48, "steps": 15, "coarse_steps": 0, "style_loss": name}
    result = client.stylize(rgb_image(scene(48, 48)), [rgb_image(stripes(48, 48))], params=params).result(
        lambda e: losses.append(e.loss) if e.kind == "progress" else None
    )
    assert (result.width, result.height) == (48, 48)
    assert len(losses) == 15
    assert losses[-1] < 0.4 * losses[0]


def test_gram_with_histogram_runs_and_adds_the_histogram_term(client: Client) -> None:
    content, style = rgb_image(scene(48, 48)), rgb_image(stripes(48, 48))

    def losses(style_loss: str) -> list[float]:
        seen: list[float] = []
        params = {"size": 48, "steps": 8, "coarse_steps": 0, "style_loss": style_loss}
        client.stylize(content, [style], params=params).result(
            lambda e: seen.append(e.loss) if e.kind == "progress" else None
        )
        return seen

    both, gram = losses("gram:1,histogram:1"), losses("gram")
    assert both[0] > 1.05 * gram[0]
    assert both[-1] < 0.5 * both[0]


def test_a_selection_guides_the_new_statistics_through_the_daemon(client: Client) -> None:
    content = scene(48, 48)
    mask = np.zeros((48, 48), np.uint8)
    mask[12:36, 12:36] = 255
    losses: list[float] = []
    params = {"size": 0, "steps": 15, "coarse_steps": 0, "style_loss": "mmd:10,bn:10,histogram:10"}
    result = as_array(
        client.stylize(
            rgb_image(content),
            [rgb_image(stripes(48, 48))],
            mask=Image(48, 48, Layout.GRAY, SampleType.UINT8, mask.tobytes()),
            params=params,
        ).result(lambda e: losses.append(e.loss) if e.kind == "progress" else None)
    )
    assert losses[-1] < 0.6 * losses[0]
    assert np.array_equal(result[mask == 0], content[mask == 0])
    assert np.abs(result[mask == 255].astype(int) - content[mask == 255]).mean() > 5


def test_an_unknown_style_loss_is_refused_clearly(client: Client) -> None:
    with pytest.raises(ImpastoError) as info:
        client.stylize(
            rgb_image(scene(32, 32)), [rgb_image(stripes(32, 32))], params={"style_loss": "gram:1,sparkle:2"}
        ).result()
    assert info.value.code == "INVALID_ARGUMENT"
    assert "parameter 'style_loss'" in info.value.message and "sparkle" in info.value.message


def _pull(vgg, content: torch.Tensor, style: torch.Tensor, weights: dict[str, float]) -> float:
    """‖∇ pixels‖ of the style loss with these statistic weights, from the content, at gatys's layers."""
    layers = parse_layers(DEFAULT_STYLE_LAYERS, "style_layers")
    names = tuple(sorted(layers, key=LAYER_NAMES.index))
    with torch.no_grad():
        features = vgg(style, names)
    stats = {kind: STATISTICS[kind]() for kind in weights}
    loss = StyleLoss(weights, layers, [style_targets(stats, features, None, 1)], [1.0])
    x = vgg.preprocess(content).requires_grad_(True)
    (grad,) = torch.autograd.grad(loss({k: v.float() for k, v in vgg.features(x, names).items()}), x)
    return float(grad.norm())


def test_a_style_weight_pulls_about_as_hard_whichever_statistic_is_chosen() -> None:
    """On the bundled samples (not the pairs PULL was measured on), each statistic as style_loss names it pulls the
    pixels within 3x of the Gram loss (median over three pairs); unscaled, mmd pulled over 10x more weakly."""
    vgg = load_vgg19()

    def picture(name: str) -> torch.Tensor:
        return resize(image_to_tensor(read_image(SAMPLES / name), torch.device("cpu")), 128, 128)

    pairs = [(picture(c), picture(s)) for c, s in [("chelsea.png", "swirls.png"), ("coffee.png", "mosaic.png"),
                                                   ("astronaut.png", "swirls.png")]]  # fmt: skip
    gram = [_pull(vgg, c, s, parse_style_loss("gram")) for c, s in pairs]

    def ratio(weights: dict[str, float]) -> float:
        return statistics.median(g / _pull(vgg, c, s, weights) for g, (c, s) in zip(gram, pairs, strict=True))

    for kind in STATISTICS:
        assert 1 / 3 < ratio(parse_style_loss(kind)) < 3, kind
    assert ratio({"mmd": 1.0}) > 10 and PULL["mmd"] > 1
