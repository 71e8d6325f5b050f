"""The DOIN plugin protocol, version 1, served over stdin/stdout.

One JSON object per line.  The server first writes a hello::

    {"v":1,"hello":"doin-plugin","kind":"optimizer","target":"m:C","sdk":"0.1.0"}

then answers each request ``{"v":1,"id":N,"method":M,"params":{...}}`` with
``{"v":1,"id":N,"result":R}`` or ``{"v":1,"id":N,"error":{"type":T,"message":S}}``:

* ``configure``  ``{"config":{...},"rng_seed":u32?}`` -> ``{"metadata":{...}|null}``
* ``optimize``   ``{"current_best_params":{...}|null,"current_best_performance":f|null}``
                 -> ``{"params":{...},"performance":f}``
* ``evaluate``   ``{"parameters":{...},"data":...}`` -> ``{"performance":f}``
* ``generate``   ``{"seed":u32}`` -> ``{"data":...}``
* ``infer``      ``{"parameters":{...},"input":...|null}`` -> ``{"output":...}``: the
                 plugin's ``infer(parameters, input_data)`` when it has one, else (as the
                 reference runs inference) ``evaluate(parameters, data=input_data)``

A non-finite performance is sent as "NaN"/"Infinity"/"-Infinity".  The plugin's own
prints go to stderr, so they cannot corrupt the protocol stream.  It exits when stdin
closes, and after a ``MemoryError`` (its heap is then not to be trusted).
"""

import json
import sys
import traceback

from .convert import performance, to_json
from .loader import KINDS, load_plugin

PROTOCOL_VERSION = 1
SDK_VERSION = "0.1.0"


class ProtocolError(Exception):
    """A request the server cannot serve."""


class _Plugin:
    def __init__(self, kind, cls):
        self.kind = kind
        self.cls = cls
        self.instance = None

    def configure(self, params):
        config = dict(params.get("config") or {})
        rng_seed = params.get("rng_seed")
        # The node gives each optimizer its own seed; a config's fixed `seed` still wins.
        if rng_seed is not None and config.get("seed") is None:
            config["seed"] = rng_seed
        self.instance = self.cls()
        configure = getattr(self.instance, "configure", None)
        if callable(configure):
            configure(config)
        metadata = None
        get_metadata = getattr(self.instance, "get_domain_metadata", None)
        if callable(get_metadata):
            metadata = to_json(get_metadata())
        return {"metadata": metadata}

    def _ready(self):
        if self.instance is None:
            raise ProtocolError("`configure` must come first")
        return self.instance

    def optimize(self, params):
        out = self._ready().optimize(
            params.get("current_best_params"), params.get("current_best_performance")
        )
        try:
            new_params, perf = out
        except (TypeError, ValueError):
            raise TypeError("optimize() must return (params, performance)") from None
        new_params = to_json(new_params)
        if not isinstance(new_params, dict):
            raise TypeError("optimize() must return params as a dict")
        return {"params": new_params, "performance": performance(perf)}

    def evaluate(self, params):
        perf = self._ready().evaluate(params.get("parameters"), params.get("data"))
        return {"performance": performance(perf)}

    def infer(self, params):
        plugin = self._ready()
        parameters, input_data = params.get("parameters"), params.get("input")
        infer = getattr(plugin, "infer", None)
        if callable(infer):
            output = infer(parameters, input_data)
        else:
            output = plugin.evaluate(parameters, data=input_data)
        # Non-finite numbers cannot be sent: _send turns them into an InvalidResult error.
        return {"output": to_json(output)}

    def generate(self, params):
        return {"data": to_json(self._ready().generate(params.get("seed")))}


def _send(out, message):
    try:
        line = json.dumps(message, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        message = {
            "v": PROTOCOL_VERSION,
            "id": message.get("id"),
            "error": {"type": "InvalidResult", "message": f"result is not JSON: {e}"},
        }
        line = json.dumps(message, separators=(",", ":"))
    out.write(line + "\n")
    out.flush()


def serve(kind, target, stdin=None, stdout=None):
    """Serves ``target`` as a plugin of ``kind`` until stdin closes; returns an exit code."""
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    # Plugins print progress; keep it off the protocol stream.
    sys.stdout = sys.stderr
    wire_kind = KINDS[kind][0]
    try:
        plugin = _Plugin(kind, load_plugin(kind, target))
    except Exception as e:  # reported through the first request
        plugin = None
        load_error = e
    _send(out, {"v": PROTOCOL_VERSION, "hello": "doin-plugin", "kind": wire_kind,
                "target": target, "sdk": SDK_VERSION})
    for raw in stdin:
        raw = raw.strip()
        if not raw:
            continue
        req_id = None
        try:
            request = json.loads(raw)
            if not isinstance(request, dict):
                raise ProtocolError("a request must be a JSON object")
            req_id = request.get("id")
            if request.get("v") != PROTOCOL_VERSION:
                raise ProtocolError(
                    f"protocol version {request.get('v')!r}; this SDK speaks {PROTOCOL_VERSION}")
            method = request.get("method")
            if plugin is None:
                raise load_error
            handler = {
                "configure": plugin.configure,
                "optimize": plugin.optimize if wire_kind == "optimizer" else None,
                "evaluate": plugin.evaluate if wire_kind == "inference" else None,
                "infer": plugin.infer if wire_kind == "inference" else None,
                "generate": plugin.generate if wire_kind == "synthetic_data" else None,
            }.get(method)
            if handler is None:
                raise ProtocolError(f"method {method!r} is not served by a {wire_kind} plugin")
            result = handler(request.get("params") or {})
            _send(out, {"v": PROTOCOL_VERSION, "id": req_id, "result": result})
        except MemoryError:
            _send(out, {"v": PROTOCOL_VERSION, "id": req_id,
                        "error": {"type": "MemoryError",
                                  "message": "the plugin ran out of memory (plugin_memory_mb)"}})
            return 3
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            _send(out, {"v": PROTOCOL_VERSION, "id": req_id,
                        "error": {"type": type(e).__name__, "message": str(e)}})
    return 0
