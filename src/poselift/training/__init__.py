"""Training: configuration, window sampling, losses, optimisers and the trainer (one process or many).

`poselift train --config configs/X.toml` is the way in; `poselift.training.trainer.train(config)` from Python.
"""
