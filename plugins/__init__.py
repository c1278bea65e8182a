"""fluidbuild's built-in plugins, installed as the package ``fluidbuild_plugins``.

``compile`` holds the generic compiler stages, ``fluidos`` the Fluid OS ones.
Each module is registered through the ``fluidbuild.plugins`` entry-point group
in ``pyproject.toml``, exactly as a third-party plugin would be.
"""
