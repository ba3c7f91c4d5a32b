"""A run directory and everything read back from it.

- `layout`: where each file of a run lives (`RunDir`), and the lock of a training process;
- `atomic`: writes that leave a reader the complete file or none;
- `description`: `task.json`, the raw features and the task, as typed objects;
- `finished`: a finished run opened for evaluate, predict, explain and report (`FinishedRun`);
- `raw_inputs`: a user's files read into the raw arrays a run's model takes;
- `inference`: the model's outputs for raw inputs, shared by predict, explain and report.
"""
