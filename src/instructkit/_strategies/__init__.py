"""The implementation of :mod:`instructkit.strategies`; see that module for the public API."""
