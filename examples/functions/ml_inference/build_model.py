"""Trains the churn model that app.py serves and saves it as model.joblib.

Deterministic: the training data comes from a seeded generator and every
estimator has a fixed random_state, so the same library versions give the same
model (and the same predictions). Run by ../prepare.sh; the .joblib is not
committed.
"""
import os

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
NUMERIC = ["tenure_months", "monthly_charges", "support_calls", "data_gb"]
CATEGORICAL = ["plan", "region"]


def make_data(n=2000, seed=7):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "tenure_months": rng.integers(1, 72, n),
        "monthly_charges": rng.normal(55, 20, n).round(2),
        "support_calls": rng.poisson(1.5, n),
        "data_gb": rng.gamma(2.0, 8.0, n).round(1),
        "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
        "region": rng.choice(["north", "south", "east", "west"], n),
    })
    logit = (-0.04 * df.tenure_months + 0.03 * df.monthly_charges
             + 0.5 * df.support_calls - 0.6 * (df.plan == "pro") - 1.0)
    df["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


def main():
    df = make_data()
    model = Pipeline([
        ("features", ColumnTransformer([
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ])),
        ("clf", RandomForestClassifier(n_estimators=40, max_depth=6, random_state=0, n_jobs=1)),
    ])
    model.fit(df[NUMERIC + CATEGORICAL], df["churned"])
    out = os.path.join(HERE, "model.joblib")
    joblib.dump(model, out, compress=3)
    print("wrote %s (%d bytes)" % (out, os.path.getsize(out)))


if __name__ == "__main__":
    main()
