"""Scores of model text: perplexity, and reference-based chrF and exact match of a generated answer.

chrF is the character n-gram F-score of Popović (2015), "chrF: character n-gram
F-score for automatic MT evaluation" (WMT 2015): character n-grams of orders
1..6, precision and recall each averaged over the orders, then combined as an
F-score with beta = 2 (recall weighted twice as much as precision). As in the
paper and in sacrebleu's default, whitespace is removed before counting, so
reindenting code does not change the score; indentation errors are what the
mpy-cross syntax check catches.
"""

from __future__ import annotations

import math
from collections import Counter

CHRF_MAX_ORDER = 6
CHRF_BETA = 2.0


def perplexity(mean_nll: float) -> float:
    """exp of a mean negative log-likelihood in nats per token (training, GGUF checks, baselines)."""
    return math.exp(mean_nll) if mean_nll < 700 else float("inf")  # exp overflows a float past ~709


def _char_ngrams(text: str, order: int) -> Counter[str]:
    return Counter(text[i : i + order] for i in range(len(text) - order + 1))


def chrf(hypothesis: str, reference: str, max_order: int = CHRF_MAX_ORDER, beta: float = CHRF_BETA) -> float:
    """Sentence-level chrF in 0..100.

    Orders that one of the two strings is too short to have are left out of the
    averages (sacrebleu's "effective order"); without this, a one-line answer
    could never reach 100 against itself. Two empty strings are identical (100).
    """
    hyp = "".join(hypothesis.split())
    ref = "".join(reference.split())
    if not hyp or not ref:
        return 100.0 if hyp == ref else 0.0
    precisions, recalls = [], []
    for order in range(1, max_order + 1):
        hyp_grams, ref_grams = _char_ngrams(hyp, order), _char_ngrams(ref, order)
        if not hyp_grams or not ref_grams:
            break  # longer orders are absent too
        matches = sum((hyp_grams & ref_grams).values())
        precisions.append(matches / sum(hyp_grams.values()))
        recalls.append(matches / sum(ref_grams.values()))
    precision = sum(precisions) / len(precisions)
    recall = sum(recalls) / len(recalls)
    if precision + recall == 0:
        return 0.0
    factor = beta**2
    return 100.0 * (1 + factor) * precision * recall / (factor * precision + recall)


def normalize_code(text: str) -> str:
    """Trailing spaces and surrounding blank lines removed: differences no one would call a wrong answer."""
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip("\n")


def exact_match(hypothesis: str, reference: str) -> bool:
    return normalize_code(hypothesis) == normalize_code(reference)
