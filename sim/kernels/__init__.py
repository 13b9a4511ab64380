"""Numba kernels: arrays in, arrays out, each with a pure-Python twin (``*_py``).

Modules are imported where they are used (``from sim.kernels import sampling``), so
importing :mod:`sim` does not pay for numba.
"""
