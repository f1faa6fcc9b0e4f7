"""``python -m nk.nkululeko.train --config exp.ini``: as ``nk run --config exp.ini``."""

import sys

from nk.nkululeko._entry import main

if __name__ == "__main__":
    sys.exit(main("run", "train"))
