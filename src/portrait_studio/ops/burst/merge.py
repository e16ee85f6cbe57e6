"""Robust merge of aligned frames, then a light spatial denoise and edge-preserving sharpening.

Each frame is warped onto the reference and compared with it on a smoothed half-resolution copy of
their difference. Where the difference stays within what the noise model explains the frame counts
fully; where it exceeds it (a moving subject, an occlusion, a failed alignment) the frame's weight
falls smoothly to zero and the reference takes over, so nothing ghosts. What the frames leave (most of
all where only the reference was kept) is then removed by a local Wiener filter in a
variance-stabilised opponent-colour space, whose noise level at each pixel comes from the noise model
and from how many frames were merged there.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from ...core.denoise import local_wiener
from .align import Motion, align_copy, estimate_motion, identity_map
from .noise import NoiseModel, fit_noise
from .settings import BurstSettings

#: (done, total, what) → None; called as work progresses (the CLI draws a progress line from it).
Progress = Callable[[int, int, str], None]

#: Resampling of the frames onto the reference (bilinear: measured better than bicubic on noisy bursts,
#: and cheaper).
INTERPOLATION = cv2.INTER_LINEAR
#: Strength of the colour (chroma) denoising relative to the brightness's.
CHROMA_STRENGTH = 1.0
#: Sharpening: radius (pixels) of the detail it lifts, and how strictly it is kept to clear signal (the
#: Wiener gain, about 1 on edges and 0 on noise, raised to this power gates it).
SHARPEN_SIGMA = 1.0
GATE_POWER = 6
# orthonormal opponent colour transform: brightness and two colour differences, white noise stays white
_OPPONENT = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], np.float32) / np.sqrt([[3], [2], [6]]).astype(np.float32)


@dataclass
class MergeReport:
    """What the merge found: motion and weight of each frame, and the noise model."""

    reference: int
    motions: dict[int, Motion] = field(default_factory=dict)
    weights: dict[int, float] = field(default_factory=dict)          # mean weight of each frame, reference 1
    noise: NoiseModel | None = None
    coverage: np.ndarray | None = None                              # (h/2, w/2): merged share of the burst


def sharpness(image: np.ndarray) -> float:
    """How sharp a frame is: the variance of the Laplacian of its grey copy at about 0.4 MP, smoothed
    slightly so that noise counts less than detail."""
    g, _ = align_copy(image)
    return float(cv2.Laplacian(cv2.GaussianBlur(g, (0, 0), 1.0), cv2.CV_32F).var())


def pick_reference(frames: Sequence[np.ndarray], first: int = 3) -> int:
    """The sharpest of the first `first` frames (0-based index)."""
    scores = [sharpness(frames[i]) for i in range(min(first, len(frames)))]
    return int(np.argmax(scores))


def merge_frames(frames: Sequence[np.ndarray], reference: int, settings: BurstSettings = BurstSettings(), *,
                 local: bool = True, progress: Progress | None = None) -> tuple[np.ndarray, MergeReport]:
    """Align every frame to the reference, merge robustly, then denoise spatially and sharpen.

    Parameters
    ----------
    frames : sequence of ndarray, float32 (H, W, 3)
        Linear-light frames of one size (a lazy sequence is fine: each is read once, in order).
    reference : int
        Index of the frame the others are aligned to; its geometry and moving subject are kept.
    settings : BurstSettings
        Its ``robustness`` (how readily a disagreeing frame gives way to the reference), ``denoise`` (the
        spatial pass's strength relative to the estimated remaining noise) and ``sharpen`` (gated
        unsharp-mask amount) are used; the reference and window are the caller's.
    local : bool
        Refine the global motion with dense local flow (a moving subject, non-rigid shake).
    progress : callable, optional
        ``progress(done, total, what)``.

    Returns
    -------
    image : ndarray, float32 (H, W, 3)
        The merged linear-light image, registered to the reference frame.
    report : MergeReport
    """
    n = len(frames)
    report = MergeReport(reference)
    tell = progress or (lambda done, total, what: None)
    total = n + 1
    ref = frames[reference]
    h, w = ref.shape[:2]
    half = (max(1, w // 2), max(1, h // 2))
    ref_half = cv2.resize(ref, half, interpolation=cv2.INTER_AREA)
    ref_grey, scale = align_copy(ref_half, full_width=w)
    ref_lp = cv2.GaussianBlur(ref_half, (0, 0), 1.0)
    grid = identity_map((h, w))
    acc = ref.copy()
    wsum = np.ones((h, w), np.float32)
    wsum_half = np.ones(half[::-1], np.float32)
    w2sum_half = np.ones(half[::-1], np.float32)
    models = []
    threshold = np.float32(9.0 / max(settings.robustness, 1e-3) ** 2)
    # full-size buffers reused for every frame (fresh 12 MP arrays cost as much in page faults as in work)
    warped, weight, sample_map = np.empty_like(ref), np.empty((h, w), np.float32), np.empty((h, w, 2), np.float32)
    frame_half, warped_half = np.empty_like(ref_half), np.empty_like(ref_half)
    for done, (z, frame) in enumerate(_prefetched(frames, [z for z in range(n) if z != reference]), 1):
        cv2.resize(frame, half, dst=frame_half, interpolation=cv2.INTER_AREA)
        grey, _ = align_copy(frame_half, full_width=w)
        motion = estimate_motion(ref_grey, grey, scale, local=local)
        report.motions[z] = motion
        cv2.remap(frame, motion.map((h, w), grid, sample_map), None, INTERPOLATION, dst=warped,
                  borderMode=cv2.BORDER_REFLECT)
        del frame
        # the noise of one pixel, from a sparse sample of the difference (moving parts are outliers)
        sub = warped[1::4, 1::4] - ref[1::4, 1::4]
        lvl = ref_lp[::2, ::2][:sub.shape[0], :sub.shape[1]]
        models.append(fit_noise(lvl, sub[:lvl.shape[0], :lvl.shape[1]]))
        # the smoothed half-resolution difference decides where the frame agrees with the reference
        cv2.resize(warped, half, dst=warped_half, interpolation=cv2.INTER_AREA)
        diff_lp = cv2.GaussianBlur(cv2.subtract(warped_half, ref_half), (0, 0), 1.0)
        lp_model = fit_noise(ref_lp, diff_lp)
        d2 = (diff_lp * diff_lp / (2.0 * lp_model.variance(ref_lp))).mean(axis=2)
        del diff_lp
        small_weight = 1.0 / (1.0 + (d2 / threshold) ** 2)
        report.weights[z] = float(small_weight.mean())
        wsum_half += small_weight
        w2sum_half += small_weight * small_weight
        cv2.resize(small_weight, (w, h), dst=weight, interpolation=cv2.INTER_LINEAR)
        cv2.add(wsum, weight, dst=wsum)
        np.multiply(warped, weight[..., None], out=warped)
        cv2.add(acc, warped, dst=acc)
        tell(done, total, f"frame {z}")
    del warped, weight, sample_map, grid
    acc /= wsum[..., None]
    del wsum
    report.coverage = wsum_half / np.float32(n)
    noise = _median_model(models) if models else _single_frame_noise(ref)
    report.noise = noise
    if settings.denoise > 0 or settings.sharpen > 0:
        residual = cv2.resize(w2sum_half / (wsum_half * wsum_half), (w, h), interpolation=cv2.INTER_LINEAR)
        acc = spatial_pass(acc, noise, residual, denoise=settings.denoise, sharpen=settings.sharpen)
    tell(total, total, "spatial pass")
    return acc, report


def spatial_pass(image: np.ndarray, noise: NoiseModel, residual: np.ndarray, *, denoise: float, sharpen: float,
                 strip: int = 128) -> np.ndarray:
    """:func:`spatial_pass_strip` over horizontal strips of `strip` rows (overlapping by what the filters
    reach), so its many temporaries stay small: the same result with a fraction of the memory traffic."""
    h = image.shape[0]
    margin = 16
    out = np.empty_like(image)
    for y0 in range(0, h, strip):
        y1 = min(h, y0 + strip)
        a, b = max(0, y0 - margin), min(h, y1 + margin)
        done = spatial_pass_strip(image[a:b], noise, residual[a:b], denoise=denoise, sharpen=sharpen)
        out[y0:y1] = done[y0 - a:y0 - a + (y1 - y0)]
    return out


def spatial_pass_strip(image: np.ndarray, noise: NoiseModel, residual: np.ndarray, *, denoise: float,
                       sharpen: float) -> np.ndarray:
    """Local Wiener denoising and gated sharpening in a variance-stabilised opponent-colour space.

    Parameters
    ----------
    image : ndarray, float32 (H, W, 3)
        Linear light.
    noise : NoiseModel
        Noise of one frame.
    residual : ndarray, float32 (H, W)
        Remaining noise variance as a fraction of one frame's (1 where only one frame was used,
        1/N where N frames were averaged).
    """
    h, w = image.shape[:2]
    f = cv2.transform(noise.stabilise(image), _OPPONENT)
    var = (residual * np.float32(max(denoise, 0.0))).astype(np.float32)
    luma, gain = local_wiener(np.ascontiguousarray(f[..., 0]), var, radius=2, return_gain=True)
    if sharpen > 0:
        detail = luma - cv2.GaussianBlur(luma, (0, 0), SHARPEN_SIGMA)
        detail *= gain ** GATE_POWER
        luma += np.float32(sharpen) * detail
    f[..., 0] = luma
    # colour: at half resolution (the eye sees little colour detail), then brought back up
    half = (max(1, w // 2), max(1, h // 2))
    small = cv2.resize(f, half, interpolation=cv2.INTER_AREA)
    var_half = cv2.resize(var, half, interpolation=cv2.INTER_AREA) * np.float32(CHROMA_STRENGTH / 4)
    for c in (1, 2):
        small[..., c] = local_wiener(np.ascontiguousarray(small[..., c]), var_half, radius=2)
    up = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    f[..., 1:] = up[..., 1:]
    return noise.unstabilise(cv2.transform(f, _OPPONENT.T))


def _prefetched(frames: Sequence[np.ndarray], order: list[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(index, frame) in `order`, the next frame read in a background thread while this one is merged
    (decoding a JPEG or RAW frame takes about as long as merging it)."""
    if not order:
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(frames.__getitem__, order[0])
        for k, z in enumerate(order):
            frame = pending.result()
            if k + 1 < len(order):
                pending = pool.submit(frames.__getitem__, order[k + 1])
            yield z, frame
            del frame


def _median_model(models: list[NoiseModel]) -> NoiseModel:
    return NoiseModel(float(np.median([m.gain for m in models])), float(np.median([m.floor for m in models])))


def _single_frame_noise(image: np.ndarray) -> NoiseModel:
    """Noise of a lone frame from its finest detail (the difference of neighbouring pixels)."""
    d = (image[:, 1:] - image[:, :-1]) / np.sqrt(2)
    lvl = 0.5 * (image[:, 1:] + image[:, :-1])
    return fit_noise(lvl, d, pair=False)
