"""The benchmark's parts: ``benchmarks/bench.py`` is the entry point that runs them."""
