"""Portrait analysis: faces, the 478-point mesh, head pose, regions, normals and the person matte.

The functions here are pure; :class:`portrait_studio.Portrait` calls them lazily and caches the results.
"""
from .backend import BACKENDS, AnalysisBackend, Detection, MediaPipeBackend, get_backend
from .faces import ANALYSIS_SIZE, Face, analysis_copy, find_faces
from .pose import Pose, head_pose
from .regions import REGIONS, face_normals, region_masks

__all__ = ["BACKENDS", "AnalysisBackend", "Detection", "MediaPipeBackend", "get_backend", "ANALYSIS_SIZE",
           "Face", "analysis_copy", "find_faces", "Pose", "head_pose", "REGIONS", "face_normals",
           "region_masks"]
