"""``python -m fipro warm-jit``: compile the project's numba functions once, at install.

numba caches compiled functions in ``NUMBA_CACHE_DIR``; without this, the first notebook of a
fresh clone to need one compiled it inside its run (the first segment notebook of the sample
took 28 s instead of 12).
"""

from __future__ import annotations

from fipro import treepredict
from fipro.segments.estimator import warm_umap_cache


def main(argv=None) -> int:
    """Compile UMAP's functions (:func:`~fipro.segments.estimator.warm_umap_cache`) and the
    life-stage model's tree walk (:func:`fipro.treepredict.warm`)."""
    import argparse  # the command line only

    argparse.ArgumentParser(prog="python -m fipro warm-jit", description=__doc__.splitlines()[0]).parse_args(argv)
    warm_umap_cache()
    treepredict.warm()
    return 0
