"""Object masks per image with SAM (segment_anything); see ``--help`` and README.md."""

import sys

from sam_objects.cli import main

if __name__ == "__main__":
    sys.exit(main(default_model="sam"))
