"""Learned judgements: labels, selectors, classifiers trained in the workspace, reference language models.

Shared pieces live here so classifiers (``winnow classify``), reference models (``winnow lm``, ``winnow dsir``)
and the dashboard speak one language: :mod:`app.learn.selectors` turns ``label:L``, ``source:S``,
``expr:EXPR``, ``file:PATH`` and ``random:N`` into documents.
"""
