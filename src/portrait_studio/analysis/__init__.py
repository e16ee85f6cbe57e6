"""Portrait analysis: faces, the 478-point mesh, head pose, regions, normals, the person matte, the
subject's shape for lighting and the light on the face.

The functions here are pure; :class:`portrait_studio.Portrait` calls them lazily and caches the results.
"""
from .backend import BACKENDS, AnalysisBackend, Detection, MediaPipeBackend, get_backend
from .faces import ANALYSIS_SIZE, MIN_FACE_PX, Face, analysis_copy, find_faces
from .pose import Pose, head_pose
from .lighting import Lighting, environment_sh, estimate_lighting, sh_irradiance
from .regions import REGIONS, face_normals, region_masks
from .subject import SubjectGeometry, refine_normals, subject_geometry

__all__ = ["BACKENDS", "AnalysisBackend", "Detection", "MediaPipeBackend", "get_backend", "ANALYSIS_SIZE",
           "MIN_FACE_PX", "Face", "analysis_copy", "find_faces", "Pose", "head_pose", "REGIONS", "face_normals",
           "region_masks", "Lighting", "environment_sh", "estimate_lighting", "sh_irradiance", "SubjectGeometry",
           "refine_normals", "subject_geometry"]
