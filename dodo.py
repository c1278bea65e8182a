"""doit entry point: hands the command line to fluidbuild (``doit image manifest=other.yaml``).

:func:`fluidbuild.noop.load` answers a build with nothing to do from its record,
else loads the graph (:func:`fluidbuild.doit_tasks.load`).
"""

import sys

from fluidbuild.noop import load

globals().update(load(sys.argv))
