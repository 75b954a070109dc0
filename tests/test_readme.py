"""The README holds for a newcomer: every Python block runs as written, top to bottom in one session.

Replaced where this machine needs it (and only there): the YOLO weights by the shared int8 exports,
"cuda:0" by "cpu", the DashScope key by a dummy (no request is sent), and the PPO budget by a few
steps. Blocks run in a fresh interpreter, so what they register does not leak into other tests.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import shared_file

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    """The README's ```python blocks, in order."""
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


def test_the_readme_has_python_examples():
    blocks = python_blocks()
    assert len(blocks) >= 4 and all(block.strip() for block in blocks)


def test_every_python_block_runs_as_written(tmp_path):
    pytest.importorskip("stable_baselines3", reason="the learn extra is not installed: pip install -e '.[learn]'")
    replacements = {
        '"yolo11x-pose.pt"': repr(str(shared_file("weights/yolo11n-pose_int8.tflite"))),
        '"yolo11n.pt"': repr(str(shared_file("weights/yolo11n_int8.tflite"))),
        '"cuda:0"': '"cpu"',
        ".learn(20_000)": ".learn(64)",
    }
    script = ["import sys"]
    for k, block in enumerate(python_blocks()):
        for old, new in replacements.items():
            block = block.replace(old, new)
        script.append(f"print('--- block {k}', flush=True)\nexec(compile({block!r}, 'README block {k}', 'exec'))")
    (tmp_path / "readme.py").write_text("\n".join(script))
    env = {**os.environ, "DASHSCOPE_API_KEY": "sk-dummy-not-sent", "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, str(tmp_path / "readme.py")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    failing = re.findall(r"--- block (\d+)", run.stdout)
    assert run.returncode == 0, (f"README block {failing[-1] if failing else '?'} failed:\n"
                                 + run.stderr[-3000:])
    assert f"--- block {len(python_blocks()) - 1}" in run.stdout
