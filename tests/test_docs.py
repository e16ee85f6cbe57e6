"""The guides: their examples run as written."""
from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _python_blocks(path: pathlib.Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M)


def test_the_operation_guide_example_runs():
    blocks = _python_blocks(ROOT / "docs" / "operations.md")
    assert len(blocks) == 2, "the guide's worked example: the operation, then what it gives"
    namespace: dict = {"__name__": "operations_guide"}
    for block in blocks:
        exec(compile(block, "docs/operations.md", "exec"), namespace)        # its asserts are the test
    assert namespace["vignette"].name == "vignette"


def test_the_guide_is_linked_from_the_readme():
    assert "(docs/operations.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
