"""Command line: ``python3 -m doin_plugin_sdk serve --kind KIND --target TARGET``."""

import argparse
import sys

from .loader import KINDS
from .server import serve


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="doin_plugin_sdk",
        description="Serve a DOIN plugin over the DOIN plugin protocol on stdin/stdout.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve one plugin until stdin closes")
    s.add_argument("--kind", required=True, choices=sorted(KINDS),
                   help="the plugin's kind")
    s.add_argument("--target", required=True,
                   help="module:Class, or an entry-point name in the kind's doin.* group")
    args = parser.parse_args(argv)
    return serve(args.kind, args.target)


if __name__ == "__main__":
    sys.exit(main())
