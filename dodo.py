"""doit entry point: hands the command line to fluidbuild (``doit image manifest=other.yaml``)."""

import sys

from fluidbuild.doit_tasks import load

globals().update(load(sys.argv))
