"""A/B-test readout: for each experiment in the event, the two-proportion
z-test p-value, a Bayesian P(B beats A) under Beta posteriors, and the lift.

Closed forms through scipy.special only (ndtr, betaln); the first version
called scipy.stats.norm and scipy.stats.beta.
"""
import json
import math

import numpy as np
from scipy import special, stats


def prob_b_beats_a(a_succ, a_n, b_succ, b_n):
    # Evan Miller's closed form for P(p_B > p_A), Beta(1+s, 1+f) posteriors.
    alpha_a, beta_a = 1 + a_succ, 1 + a_n - a_succ
    alpha_b, beta_b = 1 + b_succ, 1 + b_n - b_succ
    i = np.arange(alpha_b)
    terms = (special.betaln(alpha_a + i, beta_a + beta_b) - np.log(beta_b + i)
             - special.betaln(1 + i, beta_b) - special.betaln(alpha_a, beta_a))
    return float(np.exp(special.logsumexp(terms)))


def z_test(a_succ, a_n, b_succ, b_n):
    pooled = (a_succ + b_succ) / (a_n + b_n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / a_n + 1 / b_n))
    z = (b_succ / b_n - a_succ / a_n) / se
    return z, float(2 * special.ndtr(-abs(z)))


def handler(event, context):
    out = []
    for exp in event["experiments"]:
        a, b = exp["a"], exp["b"]
        z, p = z_test(a["conversions"], a["visitors"], b["conversions"], b["visitors"])
        out.append({
            "name": exp["name"],
            "lift": round((b["conversions"] / b["visitors"]) / (a["conversions"] / a["visitors"]) - 1, 6),
            "z": round(z, 6),
            "p_value": round(p, 8),
            "p_b_beats_a": round(prob_b_beats_a(a["conversions"], a["visitors"],
                                                b["conversions"], b["visitors"]), 8),
            "significant": p < event.get("alpha", 0.05),
        })
    return {"statusCode": 200, "body": json.dumps({"experiments": out})}
