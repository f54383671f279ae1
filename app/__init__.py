"""Winnow: an interactive curation studio for language-model training data."""

__version__ = "0.1.0"
