"""Runledger's distribution name as a package: `python -m runledger` runs the `runledger` command.

The code lives in the layered packages (domain, projections, runtime, api); this one only
names the whole, and depends on api alone.
"""
