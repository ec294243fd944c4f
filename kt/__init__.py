"""Knowledge tracing and tutoring: the student domain of riley-gym, in four rooms.

- ``riley_gym.kt.data``: the canonical interaction table, readers, attempts, sequences,
  splits and protocols, metrics.
- ``riley_gym.kt.models``: the knowledge tracers (DKT, BKT, PFA, IRT, marginal) behind one
  protocol, their registry, training loop and model files.
- ``riley_gym.kt.tutoring``: recommenders, the tutoring simulation, the DQN tutor.
- ``riley_gym.kt.experiments``: runs that tie the rooms together for the scripts.

Each room may import only the rooms listed before it (``DESIGN.md``).
"""
