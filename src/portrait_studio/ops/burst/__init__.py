"""burst: multi-frame denoising of a handheld burst, robust to a moving subject, keeping edges.

Frames are aligned to a reference (:mod:`.align`), merged where they agree with it within the noise
(:mod:`.merge`, noise model in :mod:`.noise`), then lightly denoised and sharpened in space. A
sliding-window mode denoises every frame of a sequence from its neighbours.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
import cv2
import numpy as np

from ...errors import InputError, ParameterError
from ...schema import operation
from .merge import MergeReport, Progress, merge_frames, pick_reference
from .settings import REFERENCE_CANDIDATES, BurstSettings

__all__ = ["BurstSettings", "burst", "merge_frames", "pick_reference", "MergeReport", "sliding_window"]


@operation("burst", frames=True, c2pa_action="c2pa.filtered",
           extras={"coverage": ("mask", "share of the burst merged at each pixel, 1 = every frame")})
def burst(frames, settings: BurstSettings, *, progress: Progress | None = None):
    """Merge a handheld burst into one low-noise picture: align, reject motion, denoise, sharpen.

    Frames are linear light as read (RAW/DNG frames demosaicked without denoising). Every frame is
    aligned to the reference (global rotation and translation, then local optical flow), merged where it
    agrees with the reference within the noise estimated from the burst (Poisson-Gaussian), and given way
    to the reference where it does not, so a moving subject does not ghost; a light spatial Wiener pass
    and gated sharpening follow. The result carries the reference frame's metadata.

    Parameters
    ----------
    frames : sequence of Portrait
        Two or more frames of one size (a :class:`~portrait_studio.portrait.Frames` reads them lazily).

    Returns
    -------
    (Portrait, extras) for a merge; an iterator of Portraits (one per frame) with ``window > 0``.
    """
    n = len(frames)
    names = frames.names() if hasattr(frames, "names") else [getattr(frames[i], "path", f"frame {i}")
                                                              for i in range(n)]
    if n < 2:
        raise InputError(names[0] if names else "burst", "is a single frame; a burst needs at least 2",
                         "give two or more frames of the same scene (files, a folder or a multi-image HEIC)")
    reference = settings.reference
    if reference is not None and reference >= n:
        raise ParameterError(f"burst: reference {reference} asked for but the burst has {n} frames "
                             f"(choose 0 to {n - 1})")
    if settings.window:
        return sliding_window(frames, settings, progress=progress)
    cache = _Cached(frames, REFERENCE_CANDIDATES + 1)
    if reference is None:
        reference = pick_reference(cache.images(), REFERENCE_CANDIDATES)
    base = cache[reference]
    image, report = merge_frames(cache.images(), reference, settings, progress=progress)
    h, w = image.shape[:2]
    coverage = np.clip(cv2.resize(report.coverage, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)
    return base.replace(image, geometry_kept=True), {"coverage": coverage}


def sliding_window(frames, settings: BurstSettings, *, progress: Progress | None = None) -> Iterator:
    """Each frame of a sequence denoised from its ``settings.window`` nearest frames (itself the reference).

    The window is centred on the frame and shifted inward at the ends of the sequence, so every output
    uses the same number of frames; frames are decoded once each and kept only while a window needs them.
    Yields one Portrait per input frame, in order, carrying that frame's metadata.
    """
    n = len(frames)
    size = max(1, min(settings.window, n))
    cache = _Cached(frames, size + 1)
    for i in range(n):
        start = min(max(0, i - size // 2), n - size)
        idx = list(range(start, start + size))
        base = cache[i]
        if size < 2:
            image = base.image
        else:
            image, _ = merge_frames(_Subset(cache, idx), idx.index(i), settings)
        if progress:
            progress(i + 1, n, f"frame {i}")
        yield base.replace(image, geometry_kept=True)


class _Cached(Sequence):
    """Portraits of a (lazy) frame sequence, the `size` most recently used kept decoded."""

    def __init__(self, frames, size: int):
        self.frames, self.size, self.kept = frames, size, OrderedDict()

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int):
        if i in self.kept:
            self.kept.move_to_end(i)
        else:
            self.kept[i] = self.frames[i]
            while len(self.kept) > self.size:
                self.kept.popitem(last=False)
        return self.kept[i]

    def images(self) -> "_Subset":
        return _Subset(self, range(len(self)))


class _Subset(Sequence):
    """The images of some frames of a :class:`_Cached`, by position in `indices`."""

    def __init__(self, cache: _Cached, indices):
        self.cache, self.indices = cache, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, j: int) -> np.ndarray:
        return self.cache[self.indices[j]].image
