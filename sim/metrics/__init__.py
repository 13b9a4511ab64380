"""Streaming statistics (counters, histograms, time series) and queueing-theory formulas."""
