"""Plumbing that serves one notebook only: one module per notebook, named after it.

Concept modules (``data``, ``techniques``, ``models``, ``tbptt``, ``splits``,
``experiments``, ...) hold what several notebooks or users reuse. A module here holds a
notebook's grids, timing loops and figure assembly, so the notebook's own cells stay about
the idea. Lesson modules may import concept modules, never the other way round.
"""
