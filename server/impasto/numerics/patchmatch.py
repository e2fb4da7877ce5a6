"""Nearest-neighbour fields between two feature maps by PatchMatch (Barnes et al. 2009), vectorised.

A field maps every position p of map `a` to a position q of map `b` whose patch looks most like p's.
PatchMatch improves a field in rounds: propagation offers each position its neighbours' matches
(shifted by the same step), random search tries positions in shrinking windows around its match.
Propagation here is jump flooding (Rong & Tan 2006), as in Liao et al. 2017's GPU PatchMatch: every
position considers neighbours 8, 4, 2 and 1 steps away in four directions at once, so a whole round is
a handful of tensor operations instead of a scan, which suits CPUs (vector units) and GPUs alike.

Patches are compared as descriptors: each position's k×k patch of C channels is one vector, projected
on the two maps' principal patch components when that is cheaper (He & Sun 2012 match PCA-reduced
patches too); one gather per candidate then scores a whole patch.

Fields are [2,H,W] long tensors: row and column in `b` for each position of `a`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

JUMPS = (8, 4, 2, 1)
# Patches sampled per map to find the principal components (more costs time, barely changes them).
PCA_SAMPLES = 4096

IterationCallback = Callable[[int, float], None]


def patch_descriptors(maps: Sequence[torch.Tensor], patch: int, dims: int = 0) -> list[torch.Tensor]:
    """Each [1,C,H,W] map's patch×patch neighbourhoods (zero beyond the border) as [1,D,H,W] vectors.

    D = C·patch² (exact: squared descriptor distance = summed squared feature distance over the patch)
    unless `dims` is smaller, in which case descriptors are projections on the maps' top `dims`
    principal patch components, so distances keep most of their energy at a fraction of the cost.
    """
    channels = maps[0].shape[1]
    pad = patch // 2
    full = channels * patch * patch
    if dims <= 0 or dims >= full:
        return [
            F.unfold(m.float(), patch, padding=pad)
            .view(1, full, *m.shape[-2:])
            .contiguous(memory_format=torch.channels_last)
            for m in maps
        ]
    samples = []
    for m in maps:
        height, width = m.shape[-2:]
        stride = max(1, round((height * width / PCA_SAMPLES) ** 0.5))
        samples.append(F.unfold(m.float(), patch, padding=pad, stride=stride)[0].t())
    rows = torch.cat(samples)
    # Principal directions of the centred patches: distances do not depend on where the origin is.
    # svd_lowrank draws a random projection from the global generator: seed a private one so the same
    # pictures always give the same components (and other jobs' random streams are left alone).
    with torch.random.fork_rng(devices=[rows.device] if rows.device.type == "cuda" else []):
        torch.manual_seed(0)
        _, _, basis = torch.svd_lowrank(rows, q=min(dims + 8, *rows.shape), niter=2, M=rows.mean(0, keepdim=True))
    keep = min(dims, basis.shape[1])  # few samples give fewer components
    filters = basis[:, :keep].t().reshape(keep, channels, patch, patch).contiguous()
    return [F.conv2d(m.float(), filters, padding=pad).contiguous(memory_format=torch.channels_last) for m in maps]


class _Rows:
    """A descriptor map as contiguous rows (one per position) with their squared lengths."""

    def __init__(self, descriptors: torch.Tensor) -> None:
        _, dims, self.height, self.width = descriptors.shape
        self.rows = descriptors[0].permute(1, 2, 0).reshape(-1, dims).contiguous()
        self.lengths = self.rows.square().sum(1)


def _distance(a: _Rows, b: _Rows, where: torch.Tensor | None, targets: torch.Tensor) -> torch.Tensor:
    """Squared descriptor distances between a's rows (all, or those at `where`) and b's rows `targets`."""
    mine = a.rows if where is None else a.rows.index_select(0, where)
    lengths = a.lengths if where is None else a.lengths.index_select(0, where)
    theirs = b.rows.index_select(0, targets)
    # A batched 1×D·D×1 product is several times faster on CPU than multiply-then-sum.
    dots = torch.bmm(mine.unsqueeze(1), theirs.unsqueeze(2)).view(-1)
    return (lengths + b.lengths.index_select(0, targets) - 2 * dots).clamp_min(0)


def identity_field(
    size_a: tuple[int, int], size_b: tuple[int, int], device: torch.device | None = None
) -> torch.Tensor:
    """Each position of `a` to the same relative position in `b`."""
    (ha, wa), (hb, wb) = size_a, size_b
    rows = ((torch.arange(ha, device=device) + 0.5) * hb / ha).long().clamp_(0, hb - 1)
    cols = ((torch.arange(wa, device=device) + 0.5) * wb / wa).long().clamp_(0, wb - 1)
    return torch.stack(torch.meshgrid(rows, cols, indexing="ij"))


def random_field(
    size_a: tuple[int, int], size_b: tuple[int, int], generator: torch.Generator, device: torch.device | None = None
) -> torch.Tensor:
    """Each position of `a` to a uniformly random position of `b`."""
    (ha, wa), (hb, wb) = size_a, size_b
    rows = torch.randint(0, hb, (ha, wa), generator=generator)
    cols = torch.randint(0, wb, (ha, wa), generator=generator)
    return torch.stack([rows, cols]).to(device)


def upsample_field(
    field: torch.Tensor, coarse_b: tuple[int, int], size_a: tuple[int, int], size_b: tuple[int, int]
) -> torch.Tensor:
    """A field between coarser maps carried to finer ones: each fine position keeps its place within
    the coarse cell it lies in, next to that cell's match, so matches move by what the coarse level found."""
    _, ha, wa = field.shape
    device = field.device
    scale_a = torch.tensor([ha / size_a[0], wa / size_a[1]], device=device).view(2, 1, 1)
    scale_b = torch.tensor([size_b[0] / coarse_b[0], size_b[1] / coarse_b[1]], device=device).view(2, 1, 1)
    grid = torch.stack(
        torch.meshgrid(torch.arange(size_a[0], device=device), torch.arange(size_a[1], device=device), indexing="ij")
    )
    at = (grid + 0.5) * scale_a - 0.5  # fine positions in coarse-a coordinates
    cell = (at + 0.5).floor().long()
    cell[0].clamp_(0, ha - 1)
    cell[1].clamp_(0, wa - 1)
    match = field[:, cell[0], cell[1]]  # [2, H, W]: each cell's coarse match
    fine = ((match + (at - cell) + 0.5) * scale_b - 0.5).round().long()
    fine[0].clamp_(0, size_b[0] - 1)
    fine[1].clamp_(0, size_b[1] - 1)
    return fine


def patch_distance(a: torch.Tensor, b: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """[H,W] squared distance between each descriptor of `a` ([1,D,H,W]) and the one of `b` it maps to."""
    rows_a, rows_b = _Rows(a), _Rows(b)
    return _distance(rows_a, rows_b, None, (field[0] * rows_b.width + field[1]).flatten()).view(field.shape[1:])


def brute_force(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact nearest-neighbour field and its distances, comparing every pair (small maps only)."""
    rows_a, rows_b = _Rows(a), _Rows(b)
    table = rows_a.lengths[:, None] + rows_b.lengths[None, :] - 2 * rows_a.rows @ rows_b.rows.t()
    best, index = table.clamp_min(0).min(dim=1)
    field = torch.stack([index // rows_b.width, index % rows_b.width]).view(2, rows_a.height, rows_a.width)
    return field, best.view(rows_a.height, rows_a.width)


def patchmatch(
    a: torch.Tensor,
    b: torch.Tensor,
    iterations: int,
    radius: int,
    field: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    on_iteration: IterationCallback | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """An approximate nearest-neighbour field from descriptors `a` to `b` ([1,D,H,W] each) and its distances.

    Starts from `field` (the identity when None); `radius` bounds the random search window, which
    halves down to 1 each round; on_iteration(round, mean distance) runs after each round and may raise
    to stop. A position's match changes only to a strictly closer one, so the mean never rises.
    """
    rows_a, rows_b = _Rows(a), _Rows(b)
    ha, wa, hb, wb = rows_a.height, rows_a.width, rows_b.height, rows_b.width
    device = a.device
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    if field is None:
        field = identity_field((ha, wa), (hb, wb), device)
    match_rows = field[0].flatten().clone()
    match_cols = field[1].flatten().clone()
    best = _distance(rows_a, rows_b, None, match_rows * wb + match_cols)
    rows = torch.arange(ha, device=device).repeat_interleave(wa)
    cols = torch.arange(wa, device=device).repeat(ha)

    def offer(cand_rows: torch.Tensor, cand_cols: torch.Tensor, allowed: torch.Tensor | None = None) -> None:
        cand_rows, cand_cols = cand_rows.clamp(0, hb - 1), cand_cols.clamp(0, wb - 1)
        # Only positions whose candidate differs from their match need scoring; in coherent areas
        # propagation mostly offers what a position already has.
        new = (cand_rows != match_rows) | (cand_cols != match_cols)
        if allowed is not None:
            new &= allowed
        where = new.nonzero().flatten()
        if where.numel() == 0:
            return
        target_rows, target_cols = cand_rows.index_select(0, where), cand_cols.index_select(0, where)
        dist = _distance(rows_a, rows_b, where, target_rows * wb + target_cols)
        better = dist < best.index_select(0, where)
        where, dist = where[better], dist[better]
        best.index_copy_(0, where, dist)
        match_rows.index_copy_(0, where, target_rows[better])
        match_cols.index_copy_(0, where, target_cols[better])

    for iteration in range(1, iterations + 1):
        for jump in JUMPS:
            if jump >= max(ha, wa):
                continue
            for dy, dx in ((0, -jump), (0, jump), (-jump, 0), (jump, 0)):
                # The neighbour at p+(dy,dx) matches q; p is offered q−(dy,dx).
                ny, nx = rows + dy, cols + dx
                inside = (ny >= 0) & (ny < ha) & (nx >= 0) & (nx < wa)
                neighbour = ny.clamp(0, ha - 1) * wa + nx.clamp(0, wa - 1)
                offer(match_rows[neighbour] - dy, match_cols[neighbour] - dx, inside)
        span = min(radius, max(hb, wb))
        while span >= 1:
            jitter = torch.randint(-span, span + 1, (2, ha * wa), generator=generator).to(device)
            offer(match_rows + jitter[0], match_cols + jitter[1])
            span //= 2
        if on_iteration is not None:
            on_iteration(iteration, float(best.mean()))
    field = torch.stack([match_rows, match_cols]).view(2, ha, wa)
    return field, best.view(ha, wa)


def vote(values: torch.Tensor, field: torch.Tensor, patch: int) -> torch.Tensor:
    """`values` of b ([1,C,Hb,Wb]) rebuilt on a's grid: each position averages what the patches
    covering it say, every patch copying the patch its centre maps to (Liao et al. 2017's average vote).
    With patch=1 this is a plain warp."""
    _, channels, hb, wb = values.shape
    _, ha, wa = field.shape
    device = values.device
    source = values[0].permute(1, 2, 0).reshape(hb * wb, channels)
    total = values.new_zeros(ha * wa, channels)
    count = values.new_zeros(ha * wa)
    rows = torch.arange(ha, device=device).repeat_interleave(wa)
    cols = torch.arange(wa, device=device).repeat(ha)
    pad = patch // 2
    for dy in range(-pad, pad + 1):
        for dx in range(-pad, pad + 1):
            # The patch centred at p−d covers p; its match's pixel at the same offset votes for p.
            cy, cx = rows - dy, cols - dx
            inside = (cy >= 0) & (cy < ha) & (cx >= 0) & (cx < wa)
            centre = cy.clamp(0, ha - 1) * wa + cx.clamp(0, wa - 1)
            ty = field[0].flatten()[centre] + dy
            tx = field[1].flatten()[centre] + dx
            inside &= (ty >= 0) & (ty < hb) & (tx >= 0) & (tx < wb)
            # Every position gets at most one vote per offset, so a masked gather replaces a scatter
            # (index_add_ is several times slower on CPU).
            weight = inside.to(values.dtype)
            total += source.index_select(0, ty.clamp(0, hb - 1) * wb + tx.clamp(0, wb - 1)) * weight.unsqueeze(1)
            count += weight
    out = total / count.clamp_min(1).unsqueeze(1)
    return out.t().reshape(1, channels, ha, wa)
