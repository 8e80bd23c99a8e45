"""The demo on the embedded real tiles: ``python pipeline/run_demo.py --out outputs/demo`` (``--help``: options)."""

import sys

from rspipeline.demo_cli import main

if __name__ == "__main__":
    sys.exit(main())
