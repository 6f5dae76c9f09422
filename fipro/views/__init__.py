"""Voila views: the customer and segment explorers (apps in :mod:`fipro.views.app`, panels in
   :mod:`fipro.views.panels`, the lookup tables they read in :mod:`fipro.views.data`)."""
