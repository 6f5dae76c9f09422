"""``python -m fipro.features``: see :func:`fipro.features.cache.main`."""

from fipro.features.cache import main

if __name__ == "__main__":
    raise SystemExit(main())
