"""Runledger's vocabulary and rules: Vellum events, the execution lifecycle, the event log.

Nothing in this package imports another package of ours; everything else depends on it.
"""
