"""Figure helpers shared by notebooks: Korean glyphs on a bare machine, one style, one
way of returning a figure.

Topic-specific plots live in ``fipro.figures.<topic>`` (quality, eda, lifestage …).

The figure convention
---------------------
Every ``plot_*`` function of a topic module

1. calls :func:`use_style` first;
2. draws on a new ``Figure`` (``plt.subplots``) built from the frames it is given;
3. ends with ``return finish(fig)``: the layout is tightened, the figure is closed
   (removed from pyplot, so no backend shows it on its own and a notebook with
   forty figures does not keep forty open) and returned.

A notebook shows a figure by making the call the value of its cell
(``eda_fig.plot_population(current)``), or with ``display(fig)`` when it also keeps
the figure, e.g. to write it with :func:`save_figure`. It is drawn exactly once, as a
PNG, whatever matplotlib backend the kernel runs (``Agg`` under ``make``, the inline
backend in JupyterLab): importing this package inside IPython registers an
``image/png`` display formatter for matplotlib ``Figure`` objects. Without it a
closed figure under ``Agg`` shows only as the text ``<Figure size …>``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

# NanumGothic ships inside koreanize-matplotlib: no system font is needed.
import koreanize_matplotlib  # noqa: F401  (registers and selects NanumGothic)
import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.figure import Figure

KOREAN_FONT = "NanumGothic"
# Resolution of a figure drawn in a notebook (display) and of a saved PNG (site).
DISPLAY_DPI = 110
SAVE_DPI = 130


def use_style() -> None:
    """Apply the project style (seaborn, Korean font, readable minus sign)."""
    sns.set_theme(style="whitegrid", font=KOREAN_FONT, rc={"axes.unicode_minus": False})
    matplotlib.rcParams["font.family"] = KOREAN_FONT
    matplotlib.rcParams["axes.unicode_minus"] = False
    matplotlib.rcParams["figure.dpi"] = DISPLAY_DPI


def finish(fig: Figure, tight: bool = True) -> Figure:
    """End a plot function: tighten the layout, close the figure, return it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    tight : bool
        Apply ``fig.tight_layout()`` (turn off for figures laid out by hand).

    Returns
    -------
    matplotlib.figure.Figure
        The same figure, closed in pyplot: it is shown once, as a PNG, where it is the
        value of a notebook cell (see the module docstring), and can still be saved.

    Examples
    --------
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> finish(fig) is fig, plt.fignum_exists(fig.number)
    (True, False)
    """
    if tight:
        fig.tight_layout()
    plt.close(fig)
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Save a figure as PNG (for the report site) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=SAVE_DPI, bbox_inches="tight")
    return path


def figure_png(fig: Figure) -> bytes | None:
    """The figure as PNG bytes, as a notebook shows it (None for a figure without axes)."""
    from IPython.core.pylabtools import print_figure  # optional: IPython only where a notebook shows the figure

    return print_figure(fig, "png", bbox_inches="tight", dpi=DISPLAY_DPI)


def register_png_display() -> bool:
    """Make IPython show matplotlib figures as PNG, whatever the backend.

    Called on import; a no-op (returning False) outside IPython. The inline backend
    registers the same kind of formatter when it is active, but a kernel started with
    ``MPLBACKEND=Agg`` (as ``make`` exports) has none.
    """
    try:
        from IPython import get_ipython  # optional: plain Python may lack IPython
    except ImportError:  # plain Python without IPython: nothing displays figures anyway
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "display_formatter", None) is None:
        return False
    shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)
    return True


use_style()
register_png_display()

__all__ = ["DISPLAY_DPI", "KOREAN_FONT", "SAVE_DPI", "figure_png", "finish", "plt", "register_png_display",
           "save_figure", "sns", "use_style"]
