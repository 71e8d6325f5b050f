"""Finding a plugin class by ``module:Class`` or by entry-point name."""

import importlib

# --kind name -> (protocol kind, the reference's entry-point group, the method it serves)
KINDS = {
    "optimizer": ("optimizer", "doin.optimization", "optimize"),
    "optimization": ("optimizer", "doin.optimization", "optimize"),
    "inference": ("inference", "doin.inference", "evaluate"),
    "evaluator": ("inference", "doin.inference", "evaluate"),
    "synthetic_data": ("synthetic_data", "doin.synthetic_data", "generate"),
}


class PluginNotFoundError(LookupError):
    """The target names no importable plugin class."""


def _entry_point(group, name):
    from importlib import metadata

    eps = metadata.entry_points()
    if hasattr(eps, "select"):
        found = eps.select(group=group, name=name)
    else:  # Python < 3.10
        found = [ep for ep in eps.get(group, []) if ep.name == name]
    for ep in found:
        return ep.load()
    raise PluginNotFoundError(
        f"no entry point `{name}` in group `{group}`; install the package that provides it "
        f"or name the class as module:Class"
    )


def load_plugin(kind, target):
    """The class ``target`` names for ``kind``: ``module:Class`` or an entry-point name."""
    if kind not in KINDS:
        raise PluginNotFoundError(f"unknown kind `{kind}`; expected one of {sorted(KINDS)}")
    _, group, method = KINDS[kind]
    if ":" in target:
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise PluginNotFoundError(f"cannot import module `{module_name}`: {e}") from e
        cls = module
        for part in attr.split("."):
            cls = getattr(cls, part, None)
            if cls is None:
                raise PluginNotFoundError(f"module `{module_name}` has no `{attr}`")
    else:
        cls = _entry_point(group, target)
    if not callable(getattr(cls, method, None)):
        raise PluginNotFoundError(f"`{target}` has no method `{method}` (needed for kind {kind})")
    return cls
