"""Pure building blocks the user tasks share: DDPM schedule and step maths, blending
and the tone fit, the classical pre-pass, borrowed texture, edge tracing, faces.

They work on arrays (and, for faces, on a :class:`engine.adapter.PackAdapter`); they
never look a pack up in the registry, emit job events or touch files: that is the
pipelines' job (:mod:`engine.pipelines`), one layer up.
"""
