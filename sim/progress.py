"""The progress bar of a long run: simulated time in days, hours or minutes, with the
requests so far, on stderr when attached to a terminal (``progress=true|false`` forces it)."""

from __future__ import annotations

import sys
from typing import Any

_TIME_UNITS = (
    (2 * 86400.0, 86400.0, "days"),
    (2 * 3600.0, 3600.0, "hours"),
    (120.0, 60.0, "minutes"),
)


def progress_bar(cfg: Any, horizon_s: float) -> Any:
    """A bar over simulated time, in days/hours/minutes, with the requests so far."""
    show = cfg.progress if cfg.progress is not None else sys.stderr.isatty()
    if not show:
        return None
    from tqdm import tqdm

    scale, unit = 1.0, "seconds"
    for threshold, size, name in _TIME_UNITS:
        if horizon_s >= threshold:
            scale, unit = size, name
            break
    bar = tqdm(
        total=horizon_s / scale,
        desc=f"{cfg.name}: simulated {unit}",
        bar_format="{desc} {n:.1f} of {total:.1f} |{bar}| {percentage:3.0f}%{postfix} "
        "[{elapsed} so far, {remaining} to go]",
        leave=False,
        dynamic_ncols=True,
    )
    bar.time_scale = scale  # simulated seconds per bar unit
    return bar
