"""Analysis backends: the models that find faces, place the face mesh and segment the person.

A backend works on 8-bit sRGB arrays (what the models were trained on) and knows nothing of the image
convention; :mod:`portrait_studio.analysis.faces` maps its results back to the full image.

The embedded default, :class:`MediaPipeBackend`, runs the models that the ``mediapipe==0.10.21`` wheel
ships (BlazeFace short and full range, the 468-point face mesh with the 10 iris points, selfie
segmentation), offline on a CPU.
"""
from __future__ import annotations

import contextlib
import os
import weakref
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import MissingDependencyError


@dataclass(frozen=True)
class Detection:
    """A face found by a detector: box ``(x, y, w, h)`` in pixels of the array it ran on, score in [0, 1]."""

    box: tuple[float, float, float, float]
    score: float


class AnalysisBackend(Protocol):
    """What the analysis needs from a model backend. All inputs are (H, W, 3) uint8 sRGB arrays."""

    def detect_faces(self, rgb8: np.ndarray, *, long_range: bool) -> list[Detection]:
        """Faces in the array; `long_range` asks for the model made for small, distant faces."""

    def face_mesh(self, rgb8: np.ndarray) -> np.ndarray | None:
        """478 landmarks ``(x, y, z)`` in pixels of the array for its most prominent face, or None."""

    def person_matte(self, rgb8: np.ndarray) -> np.ndarray:
        """Coarse person matte, float32 (H, W) in [0, 1], same size as the input."""


@contextlib.contextmanager
def _native_logs_silenced():
    """Silence what MediaPipe's C++ core writes to file descriptor 2 while a graph starts or runs.

    TensorFlow Lite and glog print notes and warnings straight to the stderr descriptor, which would
    break the command line's promise of one clear line on errors. The descriptor is process-wide: while
    a model runs (milliseconds), other threads' writes to stderr are dropped too.
    """
    try:
        saved = os.dup(2)
    except OSError:                      # no stderr descriptor (embedded use): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class MediaPipeBackend:
    """The embedded default backend (MediaPipe 0.10.21 solutions, models from the wheel).

    Models load on first use and are kept by this object; use one backend per thread.
    """

    name = "mediapipe"

    def __init__(self, *, min_confidence: float = 0.5):
        try:
            import mediapipe as mp
        except ImportError as e:            # pragma: no cover - mediapipe is a core dependency
            raise MissingDependencyError(
                "the face analysis backend needs mediapipe 0.10.21: pip install 'mediapipe==0.10.21'") from e
        self._mp = mp
        self.min_confidence = min_confidence
        self._graphs: dict[str, object] = {}
        # MediaPipe's graphs are not freed with the objects that hold them (their native threads keep them
        # alive): they are closed when this backend is collected, or a process reading photo after photo
        # would keep every photo's models (about 60 MB each)
        weakref.finalize(self, _close_graphs, self._graphs)

    def _graph(self, key: str):
        graph = self._graphs.get(key)
        if graph is None:
            s = self._mp.solutions
            if key == "detect-short":
                graph = s.face_detection.FaceDetection(model_selection=0, min_detection_confidence=self.min_confidence)
            elif key == "detect-long":
                graph = s.face_detection.FaceDetection(model_selection=1, min_detection_confidence=self.min_confidence)
            elif key == "mesh":
                graph = s.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1,
                                             min_detection_confidence=self.min_confidence)
            else:
                graph = s.selfie_segmentation.SelfieSegmentation(model_selection=0)
            self._graphs[key] = graph
        return graph

    def _run(self, key: str, rgb8: np.ndarray):
        # one silenced span from the graph's start to its first result: a new graph opens its calculators on
        # worker threads, which may write their start-up notes after the constructor has returned
        with _native_logs_silenced():
            return self._graph(key).process(rgb8)

    def detect_faces(self, rgb8: np.ndarray, *, long_range: bool) -> list[Detection]:
        h, w = rgb8.shape[:2]
        result = self._run("detect-long" if long_range else "detect-short", rgb8)
        found = []
        for d in result.detections or []:
            b = d.location_data.relative_bounding_box
            found.append(Detection((b.xmin * w, b.ymin * h, b.width * w, b.height * h), float(d.score[0])))
        return found

    def face_mesh(self, rgb8: np.ndarray) -> np.ndarray | None:
        h, w = rgb8.shape[:2]
        result = self._run("mesh", rgb8)
        if not result.multi_face_landmarks:
            return None
        pts = np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], np.float32)
        # MediaPipe's z shares the x axis' scale (fraction of the width): convert all three to pixels
        return pts * np.array([w, h, w], np.float32)

    def person_matte(self, rgb8: np.ndarray) -> np.ndarray:
        mask = self._run("segment", rgb8).segmentation_mask
        return np.clip(np.asarray(mask, np.float32), 0.0, 1.0)

    def close(self) -> None:
        """Release the models (they are also released when the object is collected)."""
        _close_graphs(self._graphs)


def _close_graphs(graphs: dict) -> None:
    """Close MediaPipe graphs (by name) and forget them; they are made again on next use."""
    for graph in graphs.values():
        graph.close()
    graphs.clear()


#: Backends by name; optional ONNX backends register here when their extras are installed.
BACKENDS = {"mediapipe": MediaPipeBackend}


def get_backend(name: str = "mediapipe") -> AnalysisBackend:
    """A new backend instance by name (see :data:`BACKENDS`)."""
    try:
        return BACKENDS[name]()
    except KeyError:
        raise ValueError(f"unknown analysis backend {name!r}; choose one of {sorted(BACKENDS)}") from None
