"""Cleaning transforms: steps that rewrite a document's text on export (a recipe's ``transforms:`` section).

One transform per module, registered by name (:mod:`app.transforms.base`): ``normalize`` (line endings,
Unicode NFC, whitespace), ``c4_lines`` (C4's line removal), ``pii_redact`` (e-mails, phones and IPs replaced
by placeholders), ``line_filter`` (boilerplate lines by a regex or a word count). :mod:`app.transforms.spec`
parses the recipe section and runs the steps; :mod:`app.transforms.export` applies them in the workspace and
headless exports (and re-scores the cleaned text when the recipe asks for ``score: cleaned``).
"""

from app.transforms.base import REGISTRY, Transform, get_transform, load_all

__all__ = ["REGISTRY", "Transform", "get_transform", "load_all"]
