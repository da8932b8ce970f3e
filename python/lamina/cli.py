"""The ``lamina`` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lamina", description="Lamina: deep learning with its own kernels")
    sub = parser.add_subparsers(dest="command")
    p_info = sub.add_parser("info", help="version, build, CPU features, threads, CUDA")
    p_info.add_argument("--json", action="store_true", help="print as JSON")
    args = parser.parse_args(argv)
    if args.command == "info":
        from ._info import format_info, info

        if args.json:
            import json

            print(json.dumps(info(), indent=2))
        else:
            print(format_info())
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
