"""Shared fixtures: real photos (the astronaut from scikit-image; ../shared/data when present) and one
analysis backend for the session (models load once)."""
from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

SHARED_DATA = pathlib.Path(os.environ.get("PS_SHARED_DATA",
                                          pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session", autouse=True)
def config_home(tmp_path_factory):
    """A config folder of the test session's own (the signing key made on first use lands there, not in the
    user's ~/.config); command lines run by the tests inherit it."""
    home = tmp_path_factory.mktemp("config")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(home))
        for name in ("PORTRAIT_SIGN_KEY", "PORTRAIT_SIGN_CERT"):
            mp.delenv(name, raising=False)
        yield home


@pytest.fixture(scope="session")
def backend():
    from portrait_studio.analysis import MediaPipeBackend

    b = MediaPipeBackend()
    yield b
    b.close()


@pytest.fixture(scope="session")
def astronaut_rgb8() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture()
def astronaut(astronaut_rgb8, backend):
    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8

    return Portrait(from_srgb8(astronaut_rgb8), path="astronaut", backend=backend)


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """../shared/data (the development photos); tests that use it skip cleanly where it is absent."""
    if not (SHARED_DATA / "portraits").is_dir():
        pytest.skip("../shared/data is not present (development photos; not shipped with the project)")
    return SHARED_DATA
