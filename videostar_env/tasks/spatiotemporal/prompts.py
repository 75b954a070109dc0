"""Spatio-temporal prompts: the relation-graph reasoning format, after Video-STR, in our own words."""

from __future__ import annotations

from ...actions import ReasoningTags

ROLE = ("You are an expert in spatio-temporal reasoning. You watch a video of objects on a ground plane, work out "
        "where each object is and how it moves, and answer precise questions about positions, distances, sizes, "
        "motion and order.")

GRAPH_EXAMPLE = ('{"units": "metres", "frames": [{"time": 0.0, '
                 '"nodes": [{"id": "1", "label": "red cube", "position": [0.5, 3.0]}, '
                 '{"id": "2", "label": "blue sphere", "position": [-1.0, 4.0]}], '
                 '"edges": [{"source": "1", "target": "2", "distance": 1.8, "angle": 146.3}]}]}')

HOW_TO_ANSWER = {"choice": "the letter of one option", "number": "a number in {unit}", "count": "a whole number"}
ANSWER_FORM = "the letter of one option, or a number, as the question asks"  # the task's answer_form, for hints


def answer_format(reasoning: ReasoningTags, graph: str) -> str:
    """How to write the final turn: the relation graph first, inside the reasoning, then the answer."""
    return (f"First write the scene's relation graph inside your reasoning: at the times that matter, every object "
            f"as a node with its position on the ground plane (x to the right, y away from the camera, in metres; "
            f"where only the picture places objects, \"units\": \"image\": x to the right and y up from the "
            f"frame's bottom-left corner, in the video's pixels divided by its larger side), and for each pair of "
            f"objects an edge with their distance and the angle (degrees, from source to target, counter-clockwise "
            f"from x). Then reason from the graph and answer:\n{reasoning.prompt_note()}"
            + reasoning.block(f"\n<{graph}>{GRAPH_EXAMPLE}</{graph}>\n[your reasoning]\n") + "\n<answer>...</answer>")


def after_tools(reasoning: ReasoningTags, graph: str) -> str:
    """The videostar format's second turn."""
    return "The tools you chose have run; their outputs are above. Now answer.\n" + answer_format(reasoning, graph)


AFTER_TOOLS_OFFICIAL = "The tools you chose have run; their outputs are above. Now answer."


def question(text: str, kind: str, unit: str, num_frames: int, duration: float,
             options: dict[str, str] | None = None, window: tuple[float, float] | None = None) -> str:
    """The question after the video (with its options when the text lacks them), and how to write the answer."""
    how = HOW_TO_ANSWER[kind].format(unit=unit or "the asked unit")
    # A real video's duration is not known up front (0): the frames span the whole of it.
    shown = (f"from {window[0]:.1f}s to {window[1]:.1f}s of the video" if window
             else f"over its {duration:.1f} seconds" if duration > 0 else "over the whole video")
    listed = "".join(f"\n{letter}. {option}" for letter, option in (options or {}).items())
    return (f"The video above is shown as {num_frames} frames sampled uniformly {shown}.\n"
            f"{text}{listed}\nAnswer with {how} inside <answer></answer>.\n\n")
