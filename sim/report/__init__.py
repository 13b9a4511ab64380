"""``python -m sim.report SWEEP_DIR``: the tables and plots of a whole sweep.

A sweep (``python -m sim --multirun ...``) leaves one folder per job. This package reads
them back and answers the question a sweep is run for — how cost and latency change
with usage:

* :mod:`sim.report.sweep` finds the jobs (any folder, at any depth, holding
  ``.hydra/overrides.yaml``, ``summary.json`` or ``error.json``), reads each job's
  overrides and summary, and tells finished runs from failed, incomplete and unreadable
  ones; the swept keys come from Hydra's ``multirun.yaml`` and from the values that
  differ between jobs, never from folder names.
* :mod:`sim.report.table` turns a finished run into one row of ``report.csv`` (swept
  values, request counts, usage, costs, latency, one column per cost layer) and decides
  what the plots put on their axes: the *usage* key (the swept number that sets the
  requests per day) and the *series* keys (every other swept key: one line per value).
* :mod:`sim.report.plots` draws ``cost_vs_usage.png``, ``cost_per_request_vs_usage.png``
  and ``latency_vs_usage.png`` (data in, figures out; pyplot imported only there).
* :mod:`sim.report.stats` pools replications: runs that differ only in ``seed`` become
  one configuration with a mean and a Student-t 95 % confidence interval per key figure
  (``report_mean.csv``, and the bands of the plots).
* :mod:`sim.report.compare` finds where the cost curves of serving choices
  (``path=[gpu],[api]``) cross and draws ``break_even.png``; :mod:`sim.report.quality`
  draws ``cost_vs_quality.png`` when the sweep varies a lever.
* :mod:`sim.report.cli` is the command: arguments, files written atomically, the
  terminal summary and the exit status.

Importing the package is cheap: nothing here imports pyplot, Hydra or numpy at import.
"""

from sim.report.sweep import Job, Sweep, load_sweep

__all__ = ["Job", "Sweep", "load_sweep"]
