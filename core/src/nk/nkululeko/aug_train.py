"""``python -m nk.nkululeko.aug_train --config exp.ini``: as ``nk run --config exp.ini --aug-train``."""

import sys

from nk.nkululeko._entry import main

if __name__ == "__main__":
    sys.exit(main("run", "aug_train", extra=["--aug-train"]))
