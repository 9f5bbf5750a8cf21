"""Kith: an online community connected to email marketing."""

__version__ = "0.1.0"
