"""aicostsim: a discrete-event simulator of what production AI systems cost, layer by layer.

Importing the package is cheap on purpose: heavy modules (numba, pyplot, hydra) are
imported where they are used, so a CLI start or a sweep job pays only for what it needs.
"""

__version__ = "0.1.0"
