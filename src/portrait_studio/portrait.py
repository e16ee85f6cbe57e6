"""The Portrait: an image, where it came from, what was done to it, and its analysis, computed once."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from .analysis import (MIN_FACE_PX, REGIONS, AnalysisBackend, Face, Lighting, SubjectGeometry, analysis_copy,
                       estimate_lighting, face_normals, find_faces, get_backend, region_masks, subject_geometry)
from .core import as_image
from .errors import NoFaceError
from .io import DEFAULT_MAX_PIXELS, Metadata, read_image
from .io.frames import FrameSource, frame_sources, read_frame


@dataclass(frozen=True, eq=False)
class Origin:
    """The file a Portrait was read from: its bytes (the parent ingredient of the output's Content Credentials)
    and their SHA-256 (hex), which also seeds the output's watermark."""

    data: bytes
    sha256: str

    @classmethod
    def of(cls, path: str | os.PathLike) -> "Origin | None":
        """The origin of the file at `path` (None where it cannot be read again)."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return None
        return cls(data, hashlib.sha256(data).hexdigest())


class Portrait:
    """A linear-light image with its source metadata and lazily computed, cached analysis.

    Analysis (faces, mesh, pose, regions, normals, person matte) runs on first access and is kept, so a
    chain of operations analyses once: :meth:`replace` hands the cache on to the next image when the
    pixels moved nowhere (an operation that changes geometry, such as a resize, starts afresh).

    Parameters
    ----------
    image : ndarray, shape (H, W, 3)
        Linear-light RGB float (see :mod:`portrait_studio.core.image`).
    metadata : Metadata, optional
        What the source file carried (EXIF, XMP, ICC, format); None for an image made in memory.
    path : str, optional
        Where the image came from, used in messages.
    backend : AnalysisBackend, optional
        The analysis models; the embedded MediaPipe backend by default, created on first need.
    face_index : int, optional
        Which face operations work on, 0 being the largest; default the largest.
    history : tuple of dict, optional
        The operations applied so far, ``{"op": name, "params": {...}}`` each, oldest first.
    max_pixels : int
        The largest picture operations read besides this one (a background, a light to match): the limit
        this one was read with.
    origin : Origin, optional
        The file the image was read from (its bytes and SHA-256), carried through every operation so that
        an output's Content Credentials name it as their parent; None for an image made in memory.
    alpha : ndarray, shape (H, W), optional
        The image's opacity in [0, 1] (a transparent PNG's alpha), None when opaque. Operations work on
        the colour (`image`, not premultiplied, hidden colour included); the opacity is carried through
        operations that keep the geometry and written where the output format holds it.

    Examples
    --------
    >>> from skimage import data
    >>> from portrait_studio import Portrait
    >>> from portrait_studio.core import from_srgb8
    >>> p = Portrait(from_srgb8(data.astronaut()))
    >>> len(p.faces), round(p.face().pose.yaw) in range(-45, 46)
    (1, True)
    """

    def __init__(self, image: np.ndarray, metadata: Metadata | None = None, *, path: str | None = None,
                 backend: AnalysisBackend | None = None, face_index: int | None = None,
                 history: tuple[dict, ...] = (), max_pixels: int = DEFAULT_MAX_PIXELS,
                 alpha: np.ndarray | None = None, origin: "Origin | None" = None):
        self.image = as_image(image)
        self.origin = origin
        if alpha is not None:
            alpha = np.asarray(alpha, np.float32)
            if alpha.shape != self.image.shape[:2]:
                raise ValueError(f"alpha must have shape {self.image.shape[:2]}, got {alpha.shape}")
        self.alpha = alpha
        self.max_pixels = max_pixels
        self.metadata = metadata
        self.path = path if path is not None else "<image>"
        self.face_index = face_index
        self.history = tuple(history)
        #: Side results of the operation that made this image (e.g. ``{"mask": ...}``), by name.
        self.extras: dict[str, np.ndarray] = {}
        self._backend = backend
        self._cache: dict[Any, Any] = {}          # what depends on geometry only: handed on by replace()
        self._pixel_cache: dict[Any, Any] = {}    # what depends on these very pixels: this image's own

    @classmethod
    def read(cls, path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS,
             backend: AnalysisBackend | None = None, face_index: int | None = None) -> "Portrait":
        """Read a photo, with its transparency if it has any (see :func:`portrait_studio.io.read_image`);
        analysis waits until it is asked for."""
        image, metadata, alpha = read_image(path, max_pixels=max_pixels, alpha=True)
        return cls(image, metadata, path=os.fspath(path), backend=backend, face_index=face_index,
                   max_pixels=max_pixels, alpha=alpha, origin=Origin.of(path))

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return self.image.shape[:2]

    @property
    def backend(self) -> AnalysisBackend:
        """The analysis backend, created on first use."""
        if self._backend is None:
            self._backend = get_backend()
        return self._backend

    def replace(self, image: np.ndarray, *, step: dict | None = None, geometry_kept: bool = True,
                alpha: np.ndarray | None | str = "carried") -> "Portrait":
        """A new Portrait with `image`, the same metadata and backend, and `step` added to the history.

        With ``geometry_kept`` (the new pixels show the same things at the same places and the same
        size) the analysis cache is shared instead of recomputed, and the opacity is carried unless
        `alpha` gives another (None: opaque); without it the new image is opaque unless `alpha` is given.
        """
        image = as_image(image)
        if geometry_kept and image.shape != self.image.shape:
            raise ValueError(f"geometry_kept needs the same shape, got {image.shape} for {self.image.shape}")
        if isinstance(alpha, str):
            alpha = self.alpha if geometry_kept else None
        new = Portrait(image, self.metadata, path=self.path, backend=self._backend, face_index=self.face_index,
                       history=self.history + ((step,) if step else ()), max_pixels=self.max_pixels, alpha=alpha,
                       origin=self.origin)
        if geometry_kept:
            new._cache = self._cache
        return new

    # -- analysis ---------------------------------------------------------------------------------

    @cached_property
    def _small(self) -> tuple[np.ndarray, int]:
        return analysis_copy(self.image)

    @property
    def faces(self) -> list[Face]:
        """All faces, largest first (an empty list when there is none)."""
        if "faces" not in self._cache:
            self._cache["faces"] = find_faces(self.image, self.backend, small=self._small)
        return self._cache["faces"]

    def face(self, index: int | None = None, *, needed_by: str | None = None) -> Face:
        """The face to work on: `index`, else the portrait's ``face_index``, else the largest.

        With `needed_by` (an operation's name) the face must also be large enough for work on its detail
        (:data:`~portrait_studio.analysis.MIN_FACE_PX` high, see there).

        Raises
        ------
        NoFaceError
            When there is no face, or fewer faces than the index asks for, or (with `needed_by`) the face
            is too small.
        """
        index = self.face_index if index is None else index
        faces = self.faces
        if not faces:
            raise NoFaceError(f"{self.path}: no face found; this needs a photo with a visible face "
                              "(at least 5% of the frame high, turned less than about 45 degrees)")
        if not 0 <= (index or 0) < len(faces):
            raise NoFaceError(f"{self.path}: face {index} asked for but {len(faces)} found; "
                              f"choose a face from 0 to {len(faces) - 1}")
        face = faces[index or 0]
        if needed_by is not None and face.size < MIN_FACE_PX:
            raise NoFaceError(f"{self.path}: the face is only {face.size:.0f} px high (eyes {face.interocular:.0f} px "
                              f"apart); {needed_by} needs a face at least {MIN_FACE_PX} px high; use a larger photo "
                              "(less downscaled, or cropped closer to the face)")
        return face

    def region(self, name: str, index: int | None = None) -> np.ndarray:
        """One soft full-resolution region mask of a face, float32 (H, W) in [0, 1]: ``face``, ``skin``,
        ``eyes``, ``irises``, ``brows``, ``lips``, ``mouth`` or ``nose`` (see
        :func:`~portrait_studio.analysis.region_masks`). Each is made when first asked for."""
        return self._regions(index, (name,))[name]

    def regions(self, index: int | None = None) -> dict[str, np.ndarray]:
        """All region masks of a face, by name (see :meth:`region`)."""
        return self._regions(index, REGIONS)

    def _regions(self, index: int | None, names) -> dict[str, np.ndarray]:
        face = self.face(index)
        cache = self._cache.setdefault(("regions", id(face)), {})
        missing = [n for n in names if n not in cache]
        if missing:
            cache.update(region_masks(face, self.shape, missing))
        return {n: cache[n] for n in names}

    def normals(self, index: int | None = None) -> np.ndarray:
        """Per-pixel face normals (H, W, 3), camera frame (see :func:`~portrait_studio.analysis.face_normals`)."""
        face = self.face(index)
        key = ("normals", id(face))
        if key not in self._cache:
            self._cache[key] = face_normals(face, self.shape)
        return self._cache[key]

    @property
    def coarse_matte(self) -> np.ndarray:
        """The person matte at analysis resolution, float32 in [0, 1] (cheap; for previews and decisions)."""
        if "coarse_matte" not in self._cache:
            self._cache["coarse_matte"] = self.backend.person_matte(self._small[0])
        return self._cache["coarse_matte"]

    def person_matte(self) -> np.ndarray:
        """The coarse person matte at full resolution, float32 (H, W) in [0, 1], upsampled smoothly."""
        if "person_matte" not in self._cache:
            h, w = self.shape
            self._cache["person_matte"] = np.clip(
                cv2.resize(self.coarse_matte, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
        return self._cache["person_matte"]

    def stored_depth(self):
        """The depth map (and portrait matte) the camera stored in the file this portrait was read from, as
        :class:`~portrait_studio.io.depth.StoredDepth` (low resolution, metres), or None: none stored, an
        image made in memory, or a picture whose shape no longer matches the file's. Read once."""
        if "stored_depth" not in self._cache:
            found = None
            if self.metadata is not None and os.path.isfile(self.path):
                from .io.depth import read_depth

                found = read_depth(self.path)
                if found is not None:
                    h, w = self.shape
                    dh, dw = found.depth.shape
                    if abs(dw / dh - w / h) > 0.02 * w / h:
                        found = None
            self._cache["stored_depth"] = found
        return self._cache["stored_depth"]

    def subject_geometry(self, index: int | None = None) -> SubjectGeometry:
        """Normals and height of the whole subject (face, hair, neck, shoulders) at a reduced working
        resolution, for lighting (see :func:`~portrait_studio.analysis.subject_geometry`)."""
        face = self.face(index)
        key = ("subject_geometry", id(face))
        if key not in self._cache:
            self._cache[key] = subject_geometry(face, self.shape, matte=self.coarse_matte, normals=self.normals(index),
                                                regions=self._regions(index, ("face", "skin", "eyes", "irises")))
        return self._cache[key]

    def lighting(self, index: int | None = None) -> Lighting:
        """The light on a face, estimated from its skin shading (see
        :func:`~portrait_studio.analysis.estimate_lighting`). It depends on the pixels, so unlike the
        geometry it is not handed on to the images of later operations."""
        face = self.face(index)

        def estimate() -> Lighting:
            g = self.subject_geometry(index)
            small = cv2.resize(self.image, g.size, interpolation=cv2.INTER_AREA)
            return estimate_lighting(small, g.face_normals, g.skin, g.sclera)
        return self.cached(("lighting", id(face)), estimate, per_image=True)

    def cached(self, key, compute, *, per_image: bool = False):
        """``compute()`` the first time `key` is asked for, its kept result afterwards.

        Operations keep their own costly intermediate results here. With ``per_image`` the result depends on
        these very pixels and stays with this image; otherwise it depends only on what the image shows and
        where (geometry), and is handed on by :meth:`replace` to the images of later operations that keep
        the geometry.
        """
        cache = self._pixel_cache if per_image else self._cache
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def describe(self) -> dict:
        """The analysis as a JSON-ready dict: ``{"image": {...}, "faces": [...]}``, faces largest first."""
        h, w = self.shape
        image = {"width": w, "height": h,
                 "profile": self.metadata.profile if self.metadata else "linear sRGB (in memory)"}
        if self.metadata and self.metadata.notes:
            image["notes"] = list(self.metadata.notes)
        return {"image": image, "faces": [dict(f.to_dict(), lighting=self.lighting(i).to_dict())
                                          for i, f in enumerate(self.faces)]}


class Frames(Sequence):
    """The frames of a burst or sequence as Portraits, each decoded when indexed (and not kept).

    Built by :meth:`read` from files, folders or multi-image HEICs, checked up front (every frame
    openable, one size); a plain list of Portraits serves equally wherever frames are expected.

    Examples
    --------
    >>> frames = Frames.read(["f0.jpg", "f1.jpg"])          # doctest: +SKIP
    >>> len(frames), frames[0].shape                        # doctest: +SKIP
    (2, (3024, 4032))
    """

    def __init__(self, sources: list[FrameSource], *, max_pixels: int = DEFAULT_MAX_PIXELS,
                 backend: AnalysisBackend | None = None):
        self.sources = list(sources)
        self.max_pixels = max_pixels
        self.backend = backend

    @classmethod
    def read(cls, inputs, *, max_pixels: int = DEFAULT_MAX_PIXELS, backend: AnalysisBackend | None = None
             ) -> "Frames":
        """Frames from files, folders or multi-image HEICs (see :func:`~portrait_studio.io.frames.frame_sources`)."""
        return cls(frame_sources(inputs, max_pixels=max_pixels), max_pixels=max_pixels, backend=backend)

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Frames(self.sources[index], max_pixels=self.max_pixels, backend=self.backend)
        src = self.sources[index]
        image, metadata = read_frame(src, max_pixels=self.max_pixels)
        return Portrait(image, metadata, path=src.name, backend=self.backend, max_pixels=self.max_pixels,
                        origin=Origin.of(src.path))

    def names(self) -> list[str]:
        """How messages call each frame (its path, with ``[i]`` inside a multi-image HEIC)."""
        return [s.name for s in self.sources]
