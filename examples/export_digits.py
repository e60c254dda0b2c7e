"""Export scikit-learn's 8×8 handwritten digits (1,797 real samples) into the package.

Run once; the result, ``prunelimit/data/digits.npz`` (~30 KB), is shipped so that
prunelimit and its tests need neither scikit-learn nor a download.

    pip install scikit-learn && python examples/export_digits.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parents[1] / "prunelimit" / "data" / "digits.npz"

if __name__ == "__main__":
    digits = load_digits()
    np.savez_compressed(OUT, x=digits.data.astype(np.uint8), y=digits.target.astype(np.int64))
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(digits.target)} samples)")
