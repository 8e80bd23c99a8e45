"""Overlay and blend pictures from the object JSONs of any generate_json_*.py; see ``--help``."""

import sys

from sam_objects.render_cli import main

if __name__ == "__main__":
    sys.exit(main())
