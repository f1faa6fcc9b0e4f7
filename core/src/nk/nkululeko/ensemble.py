"""``python -m nk.nkululeko.ensemble --method max_class a.ini b.ini``: as ``nk ensemble``, which
takes each INI file's latest finished run."""

import sys

from nk.nkululeko._entry import main_ensemble

if __name__ == "__main__":
    sys.exit(main_ensemble())
