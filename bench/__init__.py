"""Benchmarks of Runledger and their recorded results (see bench/README.md)."""
