"""strata's Optuna sweeper (hydra_plugins.strata_optuna_sweeper).

`hparams_search` presets select it (`override /hydra/sweeper: optuna`). It asks Optuna for one
trial at a time per free slot (`n_jobs` slots), launches it as a Hydra job whose folder is the
trial's number, and tells Optuna how the trial ended: COMPLETE with its `optimized_metric`, PRUNED
when its epoch-by-epoch values fell behind (`strata.sweeper.trial`), FAIL with its error. With a
`storage`, a study outlives the command: running it again continues the numbering, and several
processes or machines on one storage share the study (`strata.sweeper.study`).
"""
