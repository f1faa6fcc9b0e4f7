"""``python -m nk.nkululeko.explore --config exp.ini``: as ``nk explore --config exp.ini``."""

import sys

from nk.nkululeko._entry import main

if __name__ == "__main__":
    sys.exit(main("explore", "explore"))
