"""Keyword-extraction function: tokenizes review text and returns the most
frequent content words per review, plus sentence counts.

Tokenizes with nltk's WordPunctTokenizer pattern directly (fixed: no nltk).
"""
import json
from collections import Counter

import re

_WORDPUNCT = re.compile(r"\w+|[^\w\s]+")  # nltk.tokenize.WordPunctTokenizer's pattern

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been
before being below between both but by can did do does doing down during each
few for from further had has have having he her here hers him his how i if in
into is it its itself just me more most my no nor not now of off on once only or
other our out over own same she should so some such than that the their them
then there these they this those through to too under until up very was we were
what when where which while who whom why will with you your
""".split())


def keywords(text, top):
    tokens = [t.lower() for t in _WORDPUNCT.findall(text)]
    words = [t for t in tokens if t.isalpha() and t not in STOPWORDS and len(t) > 2]
    counts = Counter(words)
    return {
        "tokens": len(tokens),
        "sentences": sum(1 for t in tokens if t in {".", "!", "?", "...", "!!", "?!"}),
        "keywords": sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top],
    }


def handler(event, context):
    top = int(event.get("top", 5))
    results = [dict(id=r["id"], **keywords(r["text"], top)) for r in event.get("reviews", [])]
    return {"statusCode": 200, "body": json.dumps({"results": results})}
