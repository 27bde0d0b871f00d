"""Churn-scoring function: scores customer records with a scikit-learn model.

The model (a ColumnTransformer + RandomForest pipeline) is built by
build_model.py into model.joblib next to this file and loaded once per
container at init; each request is a list of customer records.
"""
import json
import logging
import os

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split  # left from the notebook

logger = logging.getLogger()
logger.setLevel(logging.INFO)

MODEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.joblib")
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "data_gb", "plan", "region"]

model = joblib.load(MODEL_PATH)


def handler(event, context):
    records = event.get("customers", [])
    if not records:
        return {"statusCode": 400, "body": json.dumps({"error": "no customers"})}
    frame = pd.DataFrame.from_records(records, columns=["id"] + FEATURES)
    proba = model.predict_proba(frame[FEATURES])[:, 1]
    scores = [
        {"id": cid, "churn_probability": round(float(p), 4), "at_risk": bool(p >= 0.5)}
        for cid, p in zip(frame["id"], proba)
    ]
    summary = {"n": len(scores), "mean": round(float(np.mean(proba)), 4),
               "at_risk": int(np.sum(proba >= 0.5))}
    logger.info("scored %d customers", len(scores))
    return {"statusCode": 200, "body": json.dumps({"scores": scores, "summary": summary})}
