"""The Riley web page: play the student, watch what the models believe, see why the tutor chose.

``riley_gym.web`` (the top-level folder ``web/``) is a small FastAPI application over the rest
of the package, installed with the ``web`` extra (``pip install -e '.[web]'``) and started by
``scripts/serve.py``:

- ``model``: the tutoring model (DKT, BKT, DQN tutor, the policies of
  ``kt.experiments.tutor_pipeline``), trained once on simulated logs and kept in a folder;
- ``tutoring``: one person's tutoring session and what the page shows of it;
- ``replay``: a logged student under a trained knowledge tracer;
- ``comparison``: a ``scripts/tutor.py`` run folder as chart data;
- ``app``: the FastAPI application (pages, ``/api/``, per-browser sessions, errors);
- ``server``: running it with uvicorn (in a thread, for tests and the benchmark).

Nothing is imported here, so ``import riley_gym.web`` costs nothing without the extra.
"""
