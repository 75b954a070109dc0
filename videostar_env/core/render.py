"""rgb_array rendering: sampled frames, tool images, and the dialogue so far on one canvas."""

from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

TILE = 96  # side of each frame tile, pixels
COLUMNS = 8
PANEL_HEIGHT = 320
BACKGROUND = (24, 24, 28)
TEXT_COLOUR = (225, 225, 225)
ROLE_COLOURS = {"[user]": (120, 200, 255), "[assistant]": (140, 240, 140), "[system]": (200, 200, 120)}


def _tiles(images: Sequence[np.ndarray], label: str) -> Image.Image:
    row = Image.new("RGB", (TILE * COLUMNS, TILE + 14), BACKGROUND)
    draw = ImageDraw.Draw(row)
    draw.text((4, 1), label, fill=TEXT_COLOUR)
    for k, image in enumerate(images[:COLUMNS]):
        row.paste(Image.fromarray(image).resize((TILE, TILE)), (k * TILE, 14))
    return row


def render_episode(frames: np.ndarray, tool_images: Sequence[np.ndarray], dialogue: str) -> np.ndarray:
    """(H, W, 3) uint8: a row of sampled frames, a row of the latest tool images, and the dialogue's tail."""
    picks = np.linspace(0, len(frames) - 1, min(COLUMNS, len(frames))).round().astype(int)
    top = _tiles([frames[i] for i in picks], f"video: {len(frames)} sampled frames")
    tools = _tiles(list(tool_images)[-COLUMNS:], f"tool images: {len(tool_images)}")
    panel = Image.new("RGB", (TILE * COLUMNS, PANEL_HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(panel)
    font = ImageFont.load_default()
    line_height = 11
    lines = []
    for paragraph in dialogue.splitlines():
        lines.extend(textwrap.wrap(paragraph, width=120) or [""])
    visible = lines[-(PANEL_HEIGHT // line_height - 1):]
    colour = TEXT_COLOUR
    for k, line in enumerate(visible):
        if line.startswith("["):
            colour = next((c for tag, c in ROLE_COLOURS.items() if line.startswith(tag)), (255, 170, 90))
        draw.text((4, 2 + k * line_height), line, fill=colour, font=font)
    canvas = Image.new("RGB", (TILE * COLUMNS, top.height + tools.height + PANEL_HEIGHT), BACKGROUND)
    canvas.paste(top, (0, 0))
    canvas.paste(tools, (0, top.height))
    canvas.paste(panel, (0, top.height + tools.height))
    return np.asarray(canvas)
