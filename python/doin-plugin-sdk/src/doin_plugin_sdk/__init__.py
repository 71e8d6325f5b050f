"""Serve a DOIN plugin (optimization, inference or synthetic data) to a DOIN node.

Plugins are written against the reference's interface, unchanged: a class with
``configure(config)`` and one of ``optimize(current_best_params,
current_best_performance) -> (params, performance)``, ``evaluate(parameters, data=None)
-> float`` or ``generate(seed=None) -> dict``.  The node starts::

    python3 -m doin_plugin_sdk serve --kind optimizer --target module:Class

and speaks protocol version 1 (see ``doin_plugin_sdk.server``) over stdin/stdout.
"""

from .server import PROTOCOL_VERSION, serve
from .loader import load_plugin
from .convert import to_json

__all__ = ["PROTOCOL_VERSION", "serve", "load_plugin", "to_json"]
__version__ = "0.1.0"
