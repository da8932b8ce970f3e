"""``lamina.nn.utils``: filled in with clip_grad_norm_."""
