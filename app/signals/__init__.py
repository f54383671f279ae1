"""Signal families: one scorer per file (see :mod:`app.signals.base`)."""
