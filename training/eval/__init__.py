"""How models are measured: fixed cases, metrics, classical baselines, model cards.

Trainers, tuning scripts and the benchmarks in ``bench/`` share these, so a figure in
a model card and the same figure in docs/bench-results.md come from one definition.
``bench`` imports this package, never the other way round (import-linter checks it);
only :mod:`training.eval.cases` needs torch (through the training corpus' patches),
the rest is numpy, OpenCV and scikit-image.
"""
