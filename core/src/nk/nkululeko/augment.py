"""``python -m nk.nkululeko.augment --config exp.ini``: as ``nk augment --config exp.ini``."""

import sys

from nk.nkululeko._entry import main

if __name__ == "__main__":
    sys.exit(main("augment", "augment"))
