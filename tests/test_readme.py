"""The README and every page of docs/ hold for a newcomer: their commands and Python blocks run as written.

Which blocks run: every fenced block tagged ```bash or ```python in README.md and docs/*.md. Other blocks
(file layouts, formats, output) are text, unless a marker writes them to a file (below).

How a page runs: in a fresh working directory (a temporary folder, so `runs/...`, `clips/...` and the like
are relative to it), with the venv's bin/ first on PATH. Its shell blocks run in order as one
`bash -e -o pipefail` session, as if typed into one terminal: variables, the current folder and the files
one block makes stay for the next. Its Python blocks run, in
another fresh directory, top to bottom in one interpreter (a block may use what an earlier one defined).
Both see the page's `link` and `file` markers applied first. The environment adds: REPO (the checkout), VENV (the venv), SHARED (the shared data folder),
DASHSCOPE_API_KEY / OPENAI_API_KEY set to dummies (blocks that would send a request are skipped),
MPLBACKEND=Agg and YOLO_OFFLINE=1 (no downloads).

Markers: HTML comments on the lines right above a block (invisible on the rendered page), one per line:

    <!-- test: replace "OLD" "NEW" -->   run the block with OLD replaced by NEW (shell quoting; repeatable):
                                         small inputs, e.g. replace "--episodes 40" "--episodes 2"
    <!-- test: drop "TEXT" REASON -->    leave out the block's lines containing TEXT, for the stated reason
    <!-- test: link SRC DEST -->         link SRC of the shared data (../shared/data) to DEST in the working
                                         directory first; when SRC is missing the block is skipped, saying so
    <!-- test: file NAME -->             write the block's text to NAME in the working directory, run nothing
    <!-- test: slow -->                  the block takes minutes: it runs only in test_slow_shell_blocks,
                                         under the `slow` marker (`pytest -m slow`)
    <!-- test: skip REASON -->           never run: the block needs what CI lacks (a GPU, a model server or
                                         API key, data that is not shipped); REASON says which

An unknown marker fails test_markers_are_known, so a typo cannot silently skip a block.
"""

import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import SHARED

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*test:\s*(.*?)\s*-->\s*$")
KNOWN = {"replace", "drop", "link", "file", "slow", "skip"}


@dataclass
class Block:
    page: Path
    line: int            # 1-based line of the opening fence
    language: str
    text: str
    markers: list[list[str]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    def marked(self, word: str) -> list[list[str]]:
        return [m[1:] for m in self.markers if m and m[0] == word]

    @property
    def skip_reason(self) -> str | None:
        skips = self.marked("skip")
        return " ".join(skips[0]) if skips else None

    @property
    def slow(self) -> bool:
        return bool(self.marked("slow"))

    def prepared(self) -> str:
        """The text to run: replacements made, dropped lines left out."""
        text = self.text
        for old, new in self.marked("replace"):
            assert old in text, f"{self.where}: replace {old!r}: not in the block"
            text = text.replace(old, new)
        for dropped in self.marked("drop"):
            assert len(dropped) >= 2, f"{self.where}: drop needs the text and a reason"
            text = "\n".join(line for line in text.splitlines() if dropped[0] not in line) + "\n"
        return text


def blocks(page: Path) -> list[Block]:
    """Every fenced block of a page with the markers right above it."""
    lines = page.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, language = opening.group(1), opening.group(2)
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        body = textwrap.dedent("\n".join(line[len(indent):] if line.startswith(indent) else line
                                         for line in lines[i + 1:j])) + "\n"
        markers, k = [], i - 1
        while k >= 0 and MARKER.match(lines[k]):
            markers.insert(0, shlex.split(MARKER.match(lines[k]).group(1)))
            k -= 1
        out.append(Block(page, i + 1, language, body, markers))
        i = j + 1
    return out


def all_blocks() -> list[Block]:
    return [b for page in PAGES for b in blocks(page)]


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def environment() -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""), "REPO": str(ROOT),
            "VENV": sys.prefix, "SHARED": str(SHARED), "DASHSCOPE_API_KEY": "sk-dummy-not-sent",
            "OPENAI_API_KEY": "sk-dummy-not-sent", "MPLBACKEND": "Agg", "YOLO_OFFLINE": "1",
            "PYTHONPATH": str(ROOT)}


def prepare(block: Block, workdir: Path) -> None:
    """Links the shared files the block names (or skips) and writes a `file` block."""
    for src, dest in block.marked("link"):
        source = SHARED / src
        if not source.exists():
            pytest.skip(f"{block.where} needs {source} (set VIDEOSTAR_SHARED_DATA to the shared data folder)")
        target = workdir / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(source)
    for (name,) in block.marked("file"):
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(block.prepared())


def run_page(page: Path, workdir: Path, shell: bool, python: bool, slow: bool = False) -> None:
    """Runs a page's shell blocks (slow ones too when asked) or its Python blocks, after its links and files."""
    env = environment()
    runnable = [b for b in blocks(page) if b.skip_reason is None and (slow or not b.slow)]
    for block in runnable:
        prepare(block, workdir)
    shell_blocks = [b for b in runnable if b.language == "bash" and not b.marked("file")]
    if shell and shell_blocks:
        session = "".join(f"echo '--- block {b.where}' >&2\n{b.prepared()}\n" for b in shell_blocks)
        (workdir / "_blocks.sh").write_text(session)
        run = subprocess.run(["bash", "-e", "-o", "pipefail", "_blocks.sh"], cwd=workdir, env=env,
                             capture_output=True, text=True, timeout=3000)
        failing = re.findall(r"--- block (\S+)", run.stderr)
        assert run.returncode == 0, (f"{failing[-1] if failing else page_id(page)} failed (exit {run.returncode})\n"
                                     f"--- stdout\n{run.stdout[-3000:]}\n--- stderr\n{run.stderr[-4000:]}")
    python_blocks = [b for b in runnable if b.language == "python" and not b.marked("file")]
    if not python or not python_blocks:
        return
    script = ["import sys"]
    for block in python_blocks:
        script.append(f"print('--- block {block.where}', flush=True)\n"
                      f"exec(compile({block.prepared()!r}, {block.where!r}, 'exec'))")
    (workdir / "_blocks.py").write_text("\n".join(script))
    run = subprocess.run([sys.executable, "_blocks.py"], cwd=workdir, env=env, capture_output=True, text=True,
                         timeout=1800)
    failing = re.findall(r"--- block (\S+)", run.stdout)
    assert run.returncode == 0, f"{failing[-1] if failing else page_id(page)} failed:\n{run.stderr[-3000:]}"
    assert f"--- block {python_blocks[-1].where}" in run.stdout


def pages_with(condition) -> list[Path]:
    return [page for page in PAGES if any(condition(b) for b in blocks(page))]


def test_the_readme_has_commands_and_python():
    languages = [b.language for b in blocks(ROOT / "README.md")]
    assert languages.count("python") >= 2 and languages.count("bash") >= 4


def test_markers_are_known():
    for block in all_blocks():
        for marker in block.markers:
            assert marker and marker[0] in KNOWN, f"{block.where}: unknown test marker {marker}"
            if marker[0] == "skip":
                assert len(marker) > 1, f"{block.where}: a skip states its reason"
            if marker[0] in ("replace", "link"):
                assert len(marker) == 3, f"{block.where}: {marker[0]} takes two arguments"
        block.prepared()  # every replacement and drop applies


def test_skips_are_few():
    """Blocks that cannot run here are the exception: each is listed with its reason in the report."""
    runnable = [b for b in all_blocks() if b.language in ("bash", "python")]
    skipped = [b for b in runnable if b.skip_reason]
    assert len(skipped) <= len(runnable) // 3, [f"{b.where}: {b.skip_reason}" for b in skipped]


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("page", pages_with(lambda b: b.language == "bash" and not b.slow and not b.skip_reason),
                         ids=page_id)
def test_shell_blocks(page, tmp_path):
    run_page(page, tmp_path, shell=True, python=False)


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("page", pages_with(lambda b: b.language == "python" and not b.skip_reason), ids=page_id)
def test_python_blocks(page, tmp_path):
    if "stable_baselines3" in page.read_text():
        pytest.importorskip("stable_baselines3", reason="the learn extra is not installed: pip install -e '.[learn]'")
    run_page(page, tmp_path, shell=False, python=True)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("page", pages_with(lambda b: b.slow and not b.skip_reason), ids=page_id)
def test_slow_shell_blocks(page, tmp_path):
    run_page(page, tmp_path, shell=True, python=False, slow=True)
