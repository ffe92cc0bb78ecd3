"""``heirloom batch``: one task over a whole collection, on this machine or a Ray cluster.

The pieces are small on purpose: :mod:`~engine.batch.tasks` says what a task does to
one file (the same pipelines as the single-file commands), :mod:`~engine.batch.ledger`
records what happened to every file so a rerun resumes, :mod:`~engine.batch.runners`
runs files on a process pool or on Ray actors, and :mod:`~engine.batch.driver` plans
the work, feeds the runner and reports progress.
"""
