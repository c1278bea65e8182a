"""fluidbuild: a manifest-driven, plugin-based build system for Fluid OS.

Data flows one way: ``manifest.yaml`` is loaded and validated into a model
(:mod:`fluidbuild.manifest`), plugins turn the model into task descriptions
(:mod:`fluidbuild.graph`), and :mod:`fluidbuild.doit_tasks` hands those to doit.
"""

__version__ = "0.1.0"
