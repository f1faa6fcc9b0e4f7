"""``python -m nk.nkululeko --config exp.ini``: nkululeko's experiment module, as ``nk run``."""

import sys

from nk.nkululeko._entry import main

if __name__ == "__main__":
    sys.exit(main("run", ""))
