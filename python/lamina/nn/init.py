"""``lamina.nn.init``: filled in with the module system."""
