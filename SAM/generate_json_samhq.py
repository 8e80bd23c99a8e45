"""Object masks per image with HQ-SAM (segment_anything_hq); see ``--help`` and README.md."""

import sys

from sam_objects.cli import main

if __name__ == "__main__":
    sys.exit(main(default_model="samhq"))
