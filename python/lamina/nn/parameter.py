"""Filled in with nn.Parameter."""
class Parameter:  # placeholder until the module system lands
    pass
