"""Files of the CPU tool-use demo: two synthetic videos whose label only a tool's reply tells.

    python -m videostar_trainers.cpu.tool_demo runs/tool-demo

writes into the folder
- videos.jsonl: a manifest of two synthetic videos (wave, squat) with their keypoint files, so the candidates are
  these two labels (chance 1/2) and the tiny random vision tower is no help;
- informative/synthetic_description.json: what the replay description backend serves for video_description,
  each video's own label repeated (an oracle description, caricatured so that a 200k-parameter policy can read it);
- control/synthetic_description.json: the same length of one word, the same for both videos (no information);
- agent_loop.yaml: the agent loop with video_description as the only tool, the replay description backend (its
  folder is $VIDEOSTAR_ANNOTATIONS: informative/ or control/), 4 frames of 56 px and R_tool's weight 0, so that
  calling the tool pays only through the answer it decides.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

LABELS = ("wave", "squat")
REPEAT = 300  # words in a reply: a large share of the context, which a random 2-layer policy averages over
CONTROL_WORD = "person"  # one token of the tiny tokenizer, as each label is

AGENT_LOOP = """\
# The CPU tool-use demo (trainers/cpu/tool_demo.py): video_description is the only tool, served by the replay
# description backend from $VIDEOSTAR_ANNOTATIONS; R_tool's weight is 0, so only accuracy pays for a call.
- name: videostar_agent
  _target_: videostar_trainers.agent_loop.VideoStarAgentLoop
  env_id: VideoSTAR-v0
  env_kwargs:
    tools: [video_description]
    description: replay
    num_frames: 4
    frame_size: [56, 56]
    reward: {w_tool: 0.0}
"""


def write_demo(folder: str | Path) -> Path:
    """Write the demo's manifest, both description files and the agent-loop config into folder; returns it."""
    from videostar_env.datasets.synthetic.dataset import CLASSES, SyntheticDataset

    folder = Path(folder)
    dataset = SyntheticDataset(per_class=1)
    samples = [dataset[CLASSES.index(label)] for label in LABELS]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "videos.jsonl").write_text("".join(
        json.dumps({"id": s.id, "video": s.video, "label": s.label, "annotations": s.meta["annotations"]}) + "\n"
        for s in samples))
    for name, text in (("informative", lambda s: s.label), ("control", lambda s: CONTROL_WORD)):
        (folder / name).mkdir(exist_ok=True)
        rows = [{"path": Path(s.video).name, "analysis": " ".join([text(s)] * REPEAT)} for s in samples]
        (folder / name / "synthetic_description.json").write_text(json.dumps(rows, indent=1))
    (folder / "agent_loop.yaml").write_text(AGENT_LOOP)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="where to write the demo's files (e.g. runs/tool-demo)")
    folder = write_demo(parser.parse_args(argv).folder)
    print(f"Wrote {folder}/videos.jsonl, informative/ and control/ descriptions, agent_loop.yaml")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
