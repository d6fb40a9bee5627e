"""Benchmarks of rnnkit against PyTorch on the CPU; run them as ``python -m benchmarks.NAME``."""
