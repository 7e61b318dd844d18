"""The package version (kept here so the SDK can name itself in its User-Agent)."""

__version__ = "0.1.0"
