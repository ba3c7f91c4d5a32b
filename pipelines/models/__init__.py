"""Model families: each turns a `model:` config, the features and the task into a keras.Model."""
