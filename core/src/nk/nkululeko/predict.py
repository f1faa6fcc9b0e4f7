"""``python -m nk.nkululeko.predict --config exp.ini``: as ``nk predict --config exp.ini``."""

import sys

from nk.nkululeko._entry import main

if __name__ == "__main__":
    sys.exit(main("predict", "predict"))
