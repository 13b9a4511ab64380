"""Request-path stages and the components behind them (API providers, inference pools)."""
