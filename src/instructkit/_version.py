"""The library version, kept in one place for the build backend and for provenance metadata."""

__version__ = "0.1.0.dev0"
