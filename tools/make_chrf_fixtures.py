#!/usr/bin/env python3
"""Writes tests/data/chrf_fixtures.json: sacreBLEU chrF (defaults: char order 6, word order 0,
beta 2) for multilingual hypothesis/reference pairs, sentence by sentence and over the whole
corpus. tests/unit/tasks/chrf_test.cpp compares moe-sweep's chrF against these values.

Needs sacrebleu (pip install sacrebleu). The sentences are written for this fixture.
Usage: tools/make_chrf_fixtures.py [OUT]   (default: tests/data/chrf_fixtures.json)
"""
import json
import os
import sys

import sacrebleu
from sacrebleu.metrics import CHRF

PAIRS = [
    # (hypothesis, reference)
    ("The cat sat on the mat.", "The cat sat on the mat."),
    ("The cat is sitting on the mat.", "A cat sat on the mat."),
    ("Completely unrelated words here", "The weather was cold yesterday."),
    ("Die Katze saß auf der Matte.", "Die Katze sitzt auf der Matte."),
    ("Größere Äpfel schmecken süßer.", "Große Äpfel schmecken süß."),
    ("猫坐在垫子上。", "那只猫坐在垫子上。"),
    ("我们今天去公园散步，天气很好。", "今天我们去公园散步了，天气非常好。"),
    ("猫がマットの上に座った。", "猫はマットの上に座っていた。"),
    ("แมวนั่งอยู่บนเสื่อ", "แมวนั่งบนเสื่อ"),
    ("القطة جلست على السجادة.", "جلست القطة على السجادة."),
    ("Кошка сидела на коврике.", "Кот сидел на коврике."),
    ("বিড়ালটি মাদুরের উপর বসে আছে।", "বিড়াল মাদুরে বসেছিল।"),
    ("Paka aliketi juu ya mkeka.", "Paka alikaa kwenye mkeka."),
    ("", "A reference with no hypothesis."),
    ("A hypothesis with no reference.", ""),
    ("", ""),
    ("abc", "abcd"),
    ("ab", "ab"),
    ("a", "b"),
    ("tab\tseparated\nand  spaced", "tab separated and spaced"),
    ("no\u00a0break\u3000ideographic\u2009thin", "no break ideographic thin"),
    ("aaaaaaaaaa", "aaaa"),
    ("emoji 🙂 and 😀 here", "emoji 🙂 here"),
    ("e\u0301cole", "\u00e9cole"),
    ("1,234.5 and 42", "1234.5 and 42"),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "tests", "data", "chrf_fixtures.json")
    chrf = CHRF()  # sacreBLEU defaults
    assert (chrf.char_order, chrf.word_order, chrf.beta) == (6, 0, 2)
    rows = []
    for hyp, ref in PAIRS:
        rows.append({"hypothesis": hyp, "reference": ref,
                     "chrf": chrf.sentence_score(hyp, [ref]).score})
    hyps = [h for h, _ in PAIRS]
    refs = [r for _, r in PAIRS]
    corpus = chrf.corpus_score(hyps, [refs]).score
    doc = {
        "generator": "tools/make_chrf_fixtures.py",
        "sacrebleu_version": sacrebleu.__version__,
        "signature": str(chrf.get_signature()),
        "sentences": rows,
        "corpus_chrf": corpus,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {len(rows)} pairs to {out}")


if __name__ == "__main__":
    main()
