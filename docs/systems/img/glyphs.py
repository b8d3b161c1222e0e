"""Draw `glyphs.png`: one ShapesGrid cell per entity for each glyph set (docs/systems/symdqn.md).

python docs/systems/img/glyphs.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rllib_nsrl.envs.shapes_grid import AGENT, CIRCLE, CROSS, EMPTY, GLYPH_SETS, SQUARE, cell_images  # noqa: E402

ENTITIES = {"empty": EMPTY, "agent +": AGENT, "cross": CROSS, "circle": CIRCLE, "square": SQUARE}


def main() -> None:
    """Write glyphs.png beside this script: rows = glyph sets, columns = entities, 10×10 px each."""
    rows = sorted(GLYPH_SETS)
    fig, axes = plt.subplots(len(rows), len(ENTITIES), figsize=(1.3 * len(ENTITIES), 1.45 * len(rows)))
    for r, glyphs in enumerate(rows):
        cells = cell_images(glyphs, "black_white")
        for c, (name, code) in enumerate(ENTITIES.items()):
            ax = axes[r, c]
            ax.imshow(cells[code], interpolation="nearest", extent=(0, 10, 10, 0))
            ax.set_xticks(range(0, 11, 5))
            ax.set_yticks(range(0, 11, 5))
            ax.tick_params(labelsize=6, length=2)
            ax.set_xticks(range(11), minor=True)
            ax.set_yticks(range(11), minor=True)
            ax.grid(which="minor", color="0.75", linewidth=0.3)
            if r == 0:
                ax.set_title(name, fontsize=9)
            if c == 0:
                ax.set_ylabel(f"glyphs: {glyphs}", fontsize=9)
    fig.tight_layout()
    fig.savefig(Path(__file__).with_name("glyphs.png"), dpi=110)


if __name__ == "__main__":
    main()
