"""The experiments room: runs that tie data, models and tutoring together for the scripts.

``runs`` (train-and-report into a folder, reload and evaluate), ``fitting`` (hold-out,
refit, concept mixtures and teachers prepared for a model's ``fit``), ``evaluation``
(protocol runs), ``calibrate`` (the simulator fitted to real logs), ``tutor_pipeline`` (the
main tutoring job), ``concept_mixing`` and ``irt_oracle`` (research aids for the synthetic
logs), ``plots``, and the README's result tables rendered from stored runs
(``readme_results`` over ``readme_tables``, ``gain_rounds_table`` and ``kt_tables``, reading
the files through ``stored_results``).
"""
