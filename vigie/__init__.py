"""Vigie operator tooling: the `vigie` command line, the PKI and the broker configuration."""

__version__ = "0.1.0"
