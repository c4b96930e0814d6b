"""Benchmarks of the backup paths against their floors (not part of the test suite).

    python -m bench --images 1000,10000,100000 [--full-objects 2000] [--full-gb 2]

See ``bench.run`` for the figures and their floors.
"""
