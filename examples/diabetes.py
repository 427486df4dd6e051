"""Write scikit-learn's embedded diabetes data as a CSV and an npz file, for ``jaxdl sweep --data``.

    python examples/diabetes.py                 # writes runs/diabetes.csv and runs/diabetes.npz
    jaxdl sweep --data runs/diabetes.csv --target progression --config examples/diabetes.toml

442 patients, 10 standardised features, the target a measure of disease
progression one year later (a float: a regression task).
"""

import csv
import os
import sys

import numpy as np
from sklearn.datasets import load_diabetes


def main(folder: str = "runs") -> None:
    bunch = load_diabetes()
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "diabetes.csv"), "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*bunch.feature_names, "progression"])
        for row, target in zip(bunch.data, bunch.target):
            writer.writerow([*(repr(float(v)) for v in row), repr(float(target))])
    np.savez(os.path.join(folder, "diabetes.npz"), x=bunch.data.astype(np.float32), y=bunch.target.astype(np.float32))
    print(f"wrote {folder}/diabetes.csv and {folder}/diabetes.npz")


if __name__ == "__main__":
    main(*sys.argv[1:])
