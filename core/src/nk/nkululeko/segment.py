"""``python -m nk.nkululeko.segment --config exp.ini``: as ``nk segment --config exp.ini``."""

import sys

from nk.nkululeko._entry import main

if __name__ == "__main__":
    sys.exit(main("segment", "segment"))
