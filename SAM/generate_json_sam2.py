"""Object masks per image with SAM 2.1 (sam2); see ``--help`` and README.md."""

import sys

from sam_objects.cli import main

if __name__ == "__main__":
    sys.exit(main(default_model="sam2"))
