"""doit entry point: hands the manifest to fluidbuild (``doit image manifest=other.yaml``)."""

from doit import get_var

from fluidbuild.doit_tasks import load

globals().update(load(get_var("manifest", "manifest.yaml"), {
    "explain": get_var("explain", ""),
    "profile": get_var("profile", "default"),
}))
