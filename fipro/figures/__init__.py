"""Figure helpers shared by notebooks: Korean glyphs on a bare machine, one style.

Topic-specific plots live in ``fipro.figures.<topic>`` (quality, eda, lifestage …).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

# NanumGothic ships inside koreanize-matplotlib: no system font is needed.
import koreanize_matplotlib  # noqa: F401  (registers and selects NanumGothic)
import matplotlib.pyplot as plt
import seaborn as sns

KOREAN_FONT = "NanumGothic"


def use_style() -> None:
    """Apply the project style (seaborn, Korean font, readable minus sign)."""
    sns.set_theme(style="whitegrid", font=KOREAN_FONT, rc={"axes.unicode_minus": False})
    matplotlib.rcParams["font.family"] = KOREAN_FONT
    matplotlib.rcParams["axes.unicode_minus"] = False
    matplotlib.rcParams["figure.dpi"] = 110


def save_figure(fig: "matplotlib.figure.Figure", path: Path) -> Path:
    """Save a figure as PNG (for the report site) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    return path


use_style()

__all__ = ["KOREAN_FONT", "plt", "save_figure", "sns", "use_style"]
