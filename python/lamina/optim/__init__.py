"""``lamina.optim``: filled in with the optimizers."""
