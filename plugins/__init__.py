"""Fluid OS's built-in fluidbuild plugins, one module per build stage.

They are registered through the ``fluidbuild.plugins`` entry-point group in
``pyproject.toml``, exactly like a third-party plugin would be.
"""
