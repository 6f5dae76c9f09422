"""Estimator step of the segment model: style space, segments, and a 2-D map for pictures.

:class:`SegmentModel` scales the style, projects it on its principal components (the
*style space*, also the similar-customer index) and groups the leading components with
k-means, the number of segments chosen on the data by split-half stability. Why k-means
and not UMAP + HDBSCAN for the segments: the planted segments (like real spending
styles) overlap without density gaps, so HDBSCAN on a UMAP embedding either calls 15–55%
of customers noise or splits them into 9–20 small groups (soft ARI against the planted
segments 0.15–0.36, sample and full scale), and HDBSCAN on the style space finds no
cluster at all; k-means on the same space reaches ARI 0.44–0.55 with no noise
(``evaluation.compare_methods`` repeats the comparison in every run). UMAP draws the 2-D
map (:class:`MapEmbedder`); HDBSCAN stays the measured alternative.
"""

from __future__ import annotations

import importlib
import warnings
from numbers import Integral, Real
from typing import Optional, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import KNeighborsRegressor, NearestNeighbors
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from fipro import split

_UMAP_CACHED = False


def enable_umap_cache() -> int:
    """Let numba cache UMAP's compiled functions on disk (``NUMBA_CACHE_DIR``); returns how many.

    umap-learn compiles its layout and graph functions without ``cache=True``, so every
    new kernel spent 5–20 s compiling them again (a notebook per quarter pays it each
    time); ``Dispatcher.enable_caching`` before the first call makes the second kernel
    on load them instead.
    """
    global _UMAP_CACHED
    if _UMAP_CACHED:
        return 0
    # numba (umap's compiler, ~1 s) only where UMAP runs: the segment model's other users never load it
    from numba.core.caching import NullCache  # numba: see above
    from numba.core.registry import CPUDispatcher  # numba: see above

    n = 0
    for name in ("umap.umap_", "umap.layouts", "umap.utils", "umap.spectral", "umap.distances", "umap.sparse"):
        for obj in vars(importlib.import_module(name)).values():
            if isinstance(obj, CPUDispatcher) and isinstance(obj._cache, NullCache):
                try:
                    obj.enable_caching()
                    n += 1
                except Exception:  # a function numba cannot cache (e.g. a closure) just compiles as before
                    pass
    _UMAP_CACHED = True
    return n


def warm_umap_cache(rows: int = 300) -> None:
    """Compile UMAP's functions into ``NUMBA_CACHE_DIR`` once, on a small seeded matrix.

    ``make install`` calls it (``python -m fipro warm-jit``): the first map of a fresh
    clone otherwise compiled them inside a notebook (the sample's first segment notebook
    took 28 s instead of 12). numba compiles per argument type, not per size, so a
    small matrix compiles what a full-scale map needs (float32 and float64 input alike:
    the map converts both before UMAP sees them).
    """
    X = np.random.default_rng(0).normal(size=(rows, 16)).astype(np.float32)
    MapEmbedder(max_fit=rows // 2, random_state=0).fit(X).transform(X)


def umap_embedding(X: np.ndarray, *, n_components: int, n_neighbors: int, min_dist: float, n_epochs: int = 200,
                   seed: Optional[int] = None):
    """(fitted ``umap.UMAP``, embedding) of ``X`` from an exact k-nearest-neighbour graph.

    ``seed``: UMAP's ``random_state`` (``None`` reads ``config.RANDOM_SEED``).

    Below 4,096 rows UMAP would compute all pairwise distances through a Python callable
    (9M calls for 3,000 rows: 8 s); scikit-learn's exact neighbours take 0.05 s and are
    passed as ``precomputed_knn``.
    """
    import umap  # umap pulls numba (~1 s): only the map needs it

    enable_umap_cache()
    k = int(min(n_neighbors, len(X) - 1))
    dist, idx = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)
    model = umap.UMAP(n_components=n_components, n_neighbors=k, min_dist=min_dist, n_epochs=n_epochs,
                      random_state=split.resolve_seed(seed), n_jobs=1, precomputed_knn=(idx, dist.astype(np.float32), None))
    with warnings.catch_warnings():
        # we never call UMAP's transform (MapEmbedder places new rows itself)
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        return model, model.fit_transform(X).astype(np.float32)


# k-means runs on one OpenMP thread: make all runs notebooks side by side on two cores,
# and a two-thread k-means beside another busy process spun 4-30x slower (sample fit
# 0.5 s alone, 18 s in make all; full scale 7 s alone, 27-29 s in make all)
KMEANS_THREADS = 1

DEFAULT_PARAMS = {"n_clusters": None, "k_range": (3, 8), "n_components": 8, "space_components": 16,
                  "stability_min": 0.85, "n_init": 4, "noise_quantile": 0.99}


class SegmentModel(ClusterMixin, TransformerMixin, BaseEstimator):
    """Scaling → PCA (style space) → k-means on the leading components.

    Parameters
    ----------
    n_clusters : int, optional
        Fixed number of segments; by default the largest k in ``k_range`` whose
        split-half stability (ARI between k-means fitted on two random halves, both
        applied to all rows) is at least ``stability_min`` (the most stable k if none is):
        as much detail as the data reproduces.
    k_range : (int, int)
        Smallest and largest k tried.
    n_components : int
        Leading style-space components k-means groups (on the sample 8 recover the
        planted segments best: ARI 0.54 against 0.43 with 16 and 0.39 with 32).
    space_components : int
        Components kept for the style space (the similar-customer index).
    stability_min : float
        Split-half ARI a k must reach.
    n_init : int
        k-means restarts.
    noise_quantile : float
        Customers farther from every segment centre than this quantile of the fitted
        rows' distances are noise (``outlier``): they fit no segment well.
    random_state : int or None
        Seed of the halves and of k-means (the halves use it, k-means on them it + 1 and
        + 2); ``None`` reads ``config.RANDOM_SEED`` at ``fit``.

    Attributes
    ----------
    scaler_, pca_, kmeans_ : the fitted parts.
    n_clusters_ : int
    stability_ : dict k → split-half ARI (empty when ``n_clusters`` is fixed).
    labels_ : segment of each fitted row.
    cluster_centers_ : (n_clusters_, n_components) centres in the style space.
    noise_radius_ : float
    n_features_in_ : int
    """

    def __init__(self, *, n_clusters: Optional[int] = None, k_range: Sequence[int] = (3, 8), n_components: int = 8,
                 space_components: int = 16, stability_min: float = 0.85, n_init: int = 4,
                 noise_quantile: float = 0.99, random_state: Optional[int] = None):
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.n_components = n_components
        self.space_components = space_components
        self.stability_min = stability_min
        self.n_init = n_init
        self.noise_quantile = noise_quantile
        self.random_state = random_state

    def _check_params(self) -> None:
        if self.n_clusters is not None and (not isinstance(self.n_clusters, (int, np.integer)) or self.n_clusters < 1):
            raise ValueError(f"n_clusters must be a positive int or None, got {self.n_clusters!r}")
        lo, hi = self.k_range
        if not 2 <= lo <= hi:
            raise ValueError(f"k_range must be (lo, hi) with 2 <= lo <= hi, got {self.k_range!r}")
        if self.n_components < 1 or self.space_components < self.n_components:
            raise ValueError("need 1 <= n_components <= space_components, got "
                             f"{self.n_components!r}, {self.space_components!r}")
        if not 0 < self.stability_min <= 1 or not 0 < self.noise_quantile <= 1:
            raise ValueError("stability_min and noise_quantile must be in (0, 1]")
        if self.n_init < 1:
            raise ValueError(f"n_init must be >= 1, got {self.n_init!r}")
        _check_seed(self.random_state)

    def _kmeans(self, k: int, seed: int) -> KMeans:
        return KMeans(n_clusters=k, n_init=self.n_init, random_state=seed)

    def _stability(self, C: np.ndarray, seed: int) -> dict:
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(C))
        a, b = np.sort(perm[: len(C) // 2]), np.sort(perm[len(C) // 2:])
        lo, hi = self.k_range
        out = {}
        for k in range(lo, min(hi, len(a), len(b)) + 1):
            la = self._kmeans(k, seed + 1).fit(C[a]).predict(C)
            lb = self._kmeans(k, seed + 2).fit(C[b]).predict(C)
            out[k] = float(adjusted_rand_score(la, lb))
        return out

    def fit(self, X, y=None):
        with threadpool_limits(limits=KMEANS_THREADS, user_api="openmp"):
            return self._fit(X)

    def _fit(self, X):
        self._check_params()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        seed = split.resolve_seed(self.random_state)
        self.scaler_ = StandardScaler().fit(X)
        n_space = min(self.space_components, X.shape[1], X.shape[0])
        self.pca_ = PCA(n_components=n_space, svd_solver="full", random_state=seed)
        Z = self.pca_.fit_transform(self.scaler_.transform(X))
        C = Z[:, : min(self.n_components, n_space)]
        if self.n_clusters is not None:
            self.stability_ = {}
            k = int(min(self.n_clusters, len(X)))
        else:
            self.stability_ = self._stability(C, seed)
            if not self.stability_:
                k = min(self.k_range[0], len(X))
            else:
                stable = [k for k, s in self.stability_.items() if s >= self.stability_min]
                k = max(stable) if stable else max(self.stability_, key=lambda k: (self.stability_[k], -k))
        self.kmeans_ = self._kmeans(k, seed).fit(C)
        self.n_clusters_ = int(k)
        self.labels_ = self.kmeans_.labels_.astype(np.int64)
        self.cluster_centers_ = self.kmeans_.cluster_centers_
        self.noise_radius_ = float(np.quantile(self.kmeans_.transform(C).min(1), self.noise_quantile))
        return self

    def transform(self, X) -> np.ndarray:
        """Coordinates in the style space (``pca_.n_components_`` columns)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.pca_.transform(self.scaler_.transform(X))

    def _leading(self, Z: np.ndarray) -> np.ndarray:
        return Z[:, : self.cluster_centers_.shape[1]]

    def predict(self, X) -> np.ndarray:
        """The nearest segment for every row (noise included: the soft label)."""
        return self.predict_space(self.transform(X))

    def predict_space(self, Z: np.ndarray) -> np.ndarray:
        """:meth:`predict` from style-space coordinates (saves a second projection)."""
        return self.assign_space(Z)[0]

    def outlier_space(self, Z: np.ndarray) -> np.ndarray:
        """True where a row is farther from every centre than ``noise_radius_``."""
        return self.assign_space(Z)[1]

    def assign_space(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(nearest segment, farther than ``noise_radius_`` from every centre) from one distance pass."""
        # rows × segments distances only (k-means' own transform), never a rows × segments × dims array
        d = self.kmeans_.transform(self._leading(Z))
        nearest = d.argmin(1)
        return nearest.astype(np.int64), d[np.arange(len(d)), nearest] > self.noise_radius_


def inverse_distance(dist: np.ndarray) -> np.ndarray:
    """Weights ``1 / max(distance, 1e-6)`` of :class:`MapEmbedder`'s neighbour mean.

    Not ``KNeighborsRegressor(weights="distance")``: that one gives a row at distance 0
    (a fitted row itself) only its zero-distance neighbours. Measured on 2022q2 of the
    sample, it moved 922 of 9,583 customers by more than 1e-6 on the map (at most
    1.3e-5, the map spanning 9.5); with these weights the regressor reproduces the maps
    made so far bit for bit.
    """
    return 1.0 / np.maximum(dist, 1e-6)


def _check_seed(seed) -> None:
    if seed is not None and (not isinstance(seed, Integral) or isinstance(seed, bool)):
        raise ValueError(f"random_state must be an int or None, got {seed!r}")


class MapEmbedder(TransformerMixin, BaseEstimator):
    """A 2-D UMAP map of the style space, fitted on a sample, extended to every row.

    UMAP is fitted on at most ``max_fit`` rows (its cost grows faster than linearly);
    every row then sits at the inverse-distance-weighted mean of its ``k_transform``
    nearest fitted rows' positions (a ``KNeighborsRegressor`` with
    :func:`inverse_distance` weights): the initialisation ``umap.UMAP.transform`` starts
    from, without its optimisation pass, which at 673k rows would take minutes.
    ``n_epochs`` 200 (UMAP's own choice for large data; it takes 500 below 10k rows,
    2.5x the time for a picture that looks the same).

    Parameters
    ----------
    n_neighbors : int
        UMAP's neighbourhood (at least 2; capped at the fitted rows − 1).
    min_dist : float
        UMAP's minimum distance between map points (>= 0).
    max_fit : int
        Most rows UMAP is fitted on (at least 4; a seeded sample above it).
    k_transform : int
        Fitted rows whose positions place a new row (at least 1).
    n_epochs : int
        UMAP's optimisation epochs (at least 1).
    random_state : int or None
        Seed of the sample and of UMAP; ``None`` reads ``config.RANDOM_SEED`` at ``fit``.

    Attributes
    ----------
    umap_ : the fitted ``umap.UMAP``.
    fit_points_ : (rows, n_features_in_) the rows UMAP was fitted on.
    embedding_ : (rows, 2) their map positions.
    neighbours_ : the fitted ``KNeighborsRegressor`` from style to map position.
    n_features_in_ : int

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(60, 4))
    >>> MapEmbedder(n_neighbors=10, random_state=0).fit(X).transform(X).shape
    (60, 2)
    """

    def __init__(self, *, n_neighbors: int = 30, min_dist: float = 0.1, max_fit: int = 3000, k_transform: int = 10,
                 n_epochs: int = 200, random_state: Optional[int] = None):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.max_fit = max_fit
        self.k_transform = k_transform
        self.n_epochs = n_epochs
        self.random_state = random_state

    def _check_params(self) -> None:
        for name, low in (("n_neighbors", 2), ("max_fit", 4), ("k_transform", 1), ("n_epochs", 1)):
            v = getattr(self, name)
            if not isinstance(v, Integral) or isinstance(v, bool) or v < low:
                raise ValueError(f"{name} must be an int >= {low}, got {v!r}")
        if not isinstance(self.min_dist, Real) or isinstance(self.min_dist, bool) or not self.min_dist >= 0:
            raise ValueError(f"min_dist must be a number >= 0, got {self.min_dist!r}")
        _check_seed(self.random_state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # positions are float32 whatever the input (673k × 2 map points, held by the views)
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def fit(self, X, y=None):
        """Fit UMAP on a seeded sample of ``X`` (``y`` is ignored)."""
        self._check_params()
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=4)
        seed = split.resolve_seed(self.random_state)
        rows = split.sample_positions(len(X), self.max_fit, seed)
        self.fit_points_ = X[rows]
        self.umap_, self.embedding_ = umap_embedding(self.fit_points_, n_components=2, n_neighbors=self.n_neighbors,
                                                     min_dist=self.min_dist, n_epochs=self.n_epochs, seed=seed)
        self.neighbours_ = KNeighborsRegressor(n_neighbors=int(min(self.k_transform, len(rows))),
                                               weights=inverse_distance).fit(self.fit_points_, self.embedding_)
        return self

    def transform(self, X, chunk: int = 50_000) -> np.ndarray:
        """Map positions (rows × 2, float32) of ``X``, in chunks of ``chunk`` rows (bounded memory)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        out = np.empty((len(X), 2), np.float32)
        for start in range(0, len(X), chunk):
            out[start:start + chunk] = self.neighbours_.predict(X[start:start + chunk])
        return out


def fit_segments(X, params: Optional[dict] = None, *, seed: Optional[int] = None) -> SegmentModel:
    """A :class:`SegmentModel` with ``DEFAULT_PARAMS`` overridden by ``params``, fitted on ``X``
    (``seed`` ``None``: ``config.RANDOM_SEED``)."""
    return SegmentModel(**{**DEFAULT_PARAMS, **dict(params or {})}, random_state=seed).fit(X)
