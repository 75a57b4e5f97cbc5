#!/usr/bin/env python3
"""tools/prepare_data.py's conversions, read back by moe-sweep's own loaders.

A test double of the Hub (fake_hub) hands small hand-made rows shaped like the Hub's datasets to
prepare_data.prepare(), the function the script's main() calls, so the files land exactly where a
real run puts them. Then:
  1. `moe-sweep plan` on the shipped configs (MOE_DATA = the written tree; sample counts 0 so
     the plan counts samples from the files; MOE_MODELS = a tiny made checkpoint with the layer
     count of the published one) must find every file and count the rows written:
     routing sequences per corpus and language, evaluable samples per task and language;
  2. `moe-sweep eval` on a tiny `moe-sweep make-model` checkpoint, one task kind at a time
     (including XQuAD and Belebele, which no shipped config evaluates), must read back the
     fields: each sample's id, gold answer and subject in the result file.
Usage: prepare_data_e2e.py WORKDIR   (env: MOE_CLI, MOE_SOURCE_DIR)
"""
import importlib.util
import os
import re
import shutil
import subprocess
import sys

import h5py

CLI = os.environ["MOE_CLI"]
SRC = os.environ["MOE_SOURCE_DIR"]

spec = importlib.util.spec_from_file_location("prepare_data",
                                              os.path.join(SRC, "tools", "prepare_data.py"))
pd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pd)

SUBJECTS = ["clinical_knowledge", "college_medicine", "human_aging", "medical_genetics",
            "nutrition", "professional_medicine", "virology"]
MGSM_LABELS = {"en": "Question:", "de": "Frage:", "fr": "Question :", "zh": "问题：",
               "ja": "問題：", "ru": "Задача:"}


def mgsm_rows(lang, split):
    if split == "train":  # exemplars: labelled questions, worked answers
        label = MGSM_LABELS.get(lang, "Swali:")
        return [{"question": f"{label} Tom has {k} apples in {lang}. How many?",
                 "answer": f"Step-by-Step Answer: {k}.", "answer_number": k,
                 "equation_solution": str(k)} for k in range(1, 4)]
    rows = [{"question": f"[{lang}] Problem {k}: add {k} and {k}.", "answer": None,
             "answer_number": 2 * k, "equation_solution": None} for k in range(4)]
    # a float answer and a question with a tab and a line break (TSV cannot hold them)
    rows.append({"question": f"[{lang}] A farm\thas 1,000 hens.\nHow many?", "answer": None,
                 "answer_number": 1000.0, "equation_solution": None})
    return rows


def gmmlu_rows(lang):
    rows = []
    for s in SUBJECTS + ["astronomy"]:
        for k in range(3):
            rows.append({"sample_id": f"{s}/test/{k}", "subject": s, "subject_category": "Medical",
                         "question": f"[{lang}] {s} question {k}?", "option_a": "one",
                         "option_b": "two", "option_c": "three", "option_d": "four",
                         "answer": "ABCD"[k], "required_knowledge": "[]",
                         "time_sensitive": "[]", "is_annotated": False})
    return rows


def belebele_rows(code):
    return [{"link": f"https://example.org/passage_{p}", "question_number": q + 1,
             "flores_passage": f"Passage {p} in {code}.", "question": f"Question {q} on {p}?",
             "mc_answer1": "a", "mc_answer2": "b", "mc_answer3": "c", "mc_answer4": "d",
             "correct_answer_num": str((p + q) % 4 + 1), "dialect": code, "ds": "2023-05-03"}
            for p in range(3) for q in range(2)]


def xquad_rows(lang):
    c1, c2 = f"[{lang}] The river is 300 km long.", f"[{lang}] Paris is in France."
    return [
        {"id": "q1", "context": c1, "question": "How long is it?",
         "answers": {"text": ["300 km"], "answer_start": [len(lang) + 16]}},
        {"id": "q2", "context": c1, "question": "What is it?",
         "answers": {"text": ["The river", "river"], "answer_start": [len(lang) + 3, 7]}},
        {"id": "q3", "context": c2, "question": "Where is Paris?",
         "answers": {"text": ["France"], "answer_start": [len(lang) + 15]}},
    ]


def polymath_rows(lang, level):
    return [{"id": f"{level}-{k}", "question": f"[{lang}] {level} problem {k}",
             "answer": str(k * 7) if k else "\\frac{1}{2}"} for k in range(3)]


def flores_rows(config, split, field):
    n = 5 if split == "dev" else 4
    # the Hub's order need not be the id order
    return [{"id": i, field: f"Sentence {i} of {split} in {config}.", "iso_639_3": config[:3]}
            for i in reversed(range(n))]


def fake_hub(dataset_id, config, split):
    """Test double of prepare_data.hub_fetch(): rows keyed as the real datasets are."""
    calls.append((dataset_id, config, split))
    if dataset_id == "juletxara/mgsm":
        return mgsm_rows(config, split)
    if dataset_id == "openai/gsm8k":
        assert config == "main"
        n = 4 if split == "train" else 2
        return [{"question": f"Q{k}: 2 + {k}?", "answer": f"2 + {k} = {2 + k}\n#### {2 + k}"}
                for k in range(n)]
    if dataset_id == "CohereForAI/Global-MMLU":
        assert split == "test"
        return gmmlu_rows(config)
    if dataset_id == "facebook/belebele":
        return belebele_rows(config)
    if dataset_id == "google/xquad":
        assert split == "validation" and config.startswith("xquad.")
        return xquad_rows(config[len("xquad."):])
    if dataset_id == "Qwen/PolyMath":
        return polymath_rows(config, split)
    if dataset_id == "openlanguagedata/flores_plus":
        return flores_rows(config, split, "text")
    raise AssertionError(f"unexpected download {dataset_id} {config} {split}")


calls = []
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(args, env=None):
    r = subprocess.run([CLI] + args, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"moe-sweep {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout


def plan_counts(config, data, overrides):
    """(stats sequences by (corpus, lang), eval samples by lang) of `moe-sweep plan --units`."""
    env = dict(os.environ, MOE_DATA=data, MOE_MODELS=models, MOE_OUT=work)
    out = run(["plan", os.path.join(SRC, "configs", config), "--units"] + overrides, env)
    stats = {(m[1], m[2]): int(m[3])
             for m in re.finditer(r"^stats \S+ [^/\s]+/(\S+)/(\S+) sequences=(\d+)", out, re.M)}
    samples = {}
    for m in re.finditer(r"unit e\.\w+\.([\w-]+)\.(\d+)-(\d+)", out):
        samples[m[1]] = max(samples.get(m[1], 0), int(m[3]))
    return stats, samples


def eval_samples(name, task_yaml, languages):
    """Runs `moe-sweep eval` with the baseline only; returns the samples table's columns."""
    cfg = os.path.join(work, f"eval_{name}.yaml")
    out = os.path.join(work, f"eval_{name}.h5")
    generation = "" if name in ("gmmlu", "belebele") else "  max_new_tokens: 1\n"
    with open(cfg, "w") as f:
        f.write(f"model: {{path: {model}, threads: 1}}\n"
                f"task:\n  kind: {name}\n  languages: [{', '.join(languages)}]\n{generation}")
        f.write(task_yaml)
    run(["eval", cfg, "-o", out])
    with h5py.File(out, "r") as h:
        g = h["samples"]
        table = g[list(g.keys())[0]]
        cols = {c: [v.decode() if isinstance(v, bytes) else v for v in table[c][()]]
                for c in ("language", "id", "gold", "subject")}
    return [dict(zip(cols, row)) for row in zip(*cols.values())]


work = os.path.abspath(sys.argv[1])
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
data = os.path.join(work, "data")

# ---- write every dataset through the script's own prepare() ----------------------------------
for name, d in pd.DATASETS.items():
    pd.prepare(name, data, d["languages"], fake_hub)
check(("juletxara/mgsm", "de", "train") in calls and ("openlanguagedata/flores_plus", "cmn_Hans",
      "dev") in calls and ("facebook/belebele", "zho_Hans", "test") in calls,
      "downloads ask for the Hub's configs (mgsm de train, FLORES+ cmn_Hans, belebele zho_Hans)")
n_calls = len(calls)
pd.prepare("mgsm", data, ["de"], fake_hub)
check(len(calls) == n_calls, "a second run keeps the files written (no download)")

with open(os.path.join(data, "mgsm", "train", "mgsm_de.tsv"), encoding="utf-8") as f:
    first = f.readline()
check(first == "Tom has 1 apples in de. How many?\t1\n",
      f"MGSM exemplar rows lose their question label: {first!r}")
with open(os.path.join(data, "flores200_dataset", "dev", "eng_Latn.dev"), encoding="utf-8") as f:
    lines = f.read().splitlines()
check(lines[0] == "Sentence 0 of dev in eng_Latn." and len(lines) == 5,
      "FLORES sentences are written in id order")

# ---- 1. the shipped configs plan from the written files ---------------------------------------
# `plan` checks the grids' layer ranges against the checkpoint's config.json: a tiny made
# checkpoint with Qwen3-30B-A3B's 48 MoE layers stands in for the published one.
models = os.path.join(work, "models")
run(["make-model", os.path.join(models, "Qwen3-30B-A3B"), "--family", "qwen3_moe", "--layers",
     "48", "--seed", "1", "--threads", "1"])
run(["make-model", os.path.join(models, "OLMoE-1B-7B-0924-Instruct"), "--family", "olmoe",
     "--layers", "16", "--seed", "1", "--threads", "1"])
mgsm_langs = pd.MGSM_LANGS
stats, samples = plan_counts("qwen3_mgsm.yaml", data, ["corpora.gsm8k.samples=0"])
check(stats.get(("gsm8k", "en")) == 4, f"qwen3_mgsm: gsm8k/train.jsonl gives 4 sequences ({stats})")
check(all(stats.get(("flores", l)) == 5 for l in mgsm_langs),
      "qwen3_mgsm: FLORES dev gives 5 sequences in each of 11 languages")
check(samples == {l: 5 for l in mgsm_langs},
      f"qwen3_mgsm: 5 MGSM problems per language, exemplars from train/ ({samples})")

# The medical instruction corpus is not among the downloads (README): a small stand-in, since
# every input of a sweep must exist when it is planned.
with open(os.path.join(data, "medical_instructions.jsonl"), "w") as f:
    f.write('{"text": "Explain the symptoms of anaemia."}\n')
stats, samples = plan_counts("qwen3_gmmlu.yaml", data, ["tasks.gmmlu.per_subject=2"])
check(samples == {l: 14 for l in pd.GMMLU_LANGS},
      f"qwen3_gmmlu: 7 subjects x 2 selected rows in each of 15 languages ({samples})")

stats, _ = plan_counts("olmoe_flores_routing.yaml", data, [])
check(all(stats.get(("belebele", l)) == 3 for l in pd.BELEBELE_LANGS if l not in ("el", "ms",
      "ro", "tr", "vi")), f"olmoe_flores_routing: 3 distinct Belebele passages per language")
check(len(stats) == 36, f"olmoe_flores_routing: 18 FLORES + 18 Belebele statistics ({len(stats)})")

stats, samples = plan_counts("qwen3_mask_flores.yaml", data, ["tasks.flores.standard_size=false"])
check(samples == {l: 4 for l in ("zh", "ja", "de", "fr", "sw")},
      f"qwen3_mask_flores: 4 FLORES devtest sentences per target ({samples})")

stats, samples = plan_counts("qwen3_steer_polymath.yaml", data, [])
check(stats == {("flores", "en"): 4, ("flores", "zh"): 4},
      f"qwen3_steer_polymath: FLORES devtest (zh via zho_Hans) ({stats})")
check(samples == {l: 3 for l in pd.POLYMATH_LANGS},
      f"qwen3_steer_polymath: 3 PolyMath-low problems in each of 18 languages ({samples})")

# ---- 2. the fields, read back by the evaluator -----------------------------------------------
model = os.path.join(work, "model")
run(["make-model", model, "--family", "qwen3_moe", "--layers", "2", "--seed", "3"])
D = "${MOE_DATA}"  # written literally into the YAML; eval expands it
os.environ["MOE_DATA"] = data

rows = eval_samples("mgsm", f"  path: {D}/mgsm\n  exemplars: {D}/mgsm/train/mgsm_{{lang}}.tsv\n",
                    ["de", "zh"])
check([r["gold"] for r in rows if r["language"] == "zh"] == ["0", "2", "4", "6", "1000"],
      f"mgsm: gold answer_numbers, 1000.0 written as 1000 ({[r['gold'] for r in rows]})")

rows = eval_samples("gmmlu", f"  path: {D}/global_mmlu\n  per_subject: 3\n", ["en", "sw"])
check(len(rows) == 42 and all(r["id"] == f"{r['subject']}/test/{r['id'][-1]}" for r in rows)
      and all(r["gold"] == "ABCD"[int(r["id"][-1])] for r in rows),
      "gmmlu: 21 medical rows per language with sample_id, subject and answer letter")

rows = eval_samples("belebele", f"  path: {D}/belebele\n", ["en", "zh"])
golds = [r["gold"] for r in rows if r["language"] == "zh"]
check(golds == ["A", "B", "B", "C", "C", "D"], f"belebele: 1-based answers as letters ({golds})")

rows = eval_samples("xquad", f"  path: {D}/xquad\n", ["en", "el"])
check([r["id"] for r in rows] == ["q1", "q2", "q3"] * 2 and rows[0]["gold"] == "300 km",
      f"xquad: questions of both paragraphs with their answers ({rows[:3]})")

rows = eval_samples("polymath", f"  path: {D}/polymath\n  level: top\n", ["ms"])
check([(r["id"], r["gold"]) for r in rows] == [("top-0", "\\frac{1}{2}"), ("top-1", "7"),
                                               ("top-2", "14")],
      f"polymath: ids and answers of the chosen level ({rows})")

rows = eval_samples("flores", f"  path: {D}/flores200_dataset\n  split: dev\n"
                    "  standard_size: false\n", ["zh"])
check([r["gold"] for r in rows] == [f"Sentence {i} of dev in cmn_Hans." for i in range(5)],
      "flores: the target sentences in order as references")

# ---- bad rows are refused before anything is written -----------------------------------------
bad = os.path.join(work, "bad", "gsm8k.jsonl")
try:
    pd.write_gsm8k_jsonl([{"question": "q", "answer": "no marker"}], bad)
    check(False, "a GSM8K answer without '####' is refused")
except pd.DataError as e:
    check("row 0" in str(e) and not os.path.exists(bad),
          f"a GSM8K answer without '####' is refused, nothing written: {e}")

if failures:
    sys.exit(f"{len(failures)} check(s) failed")
print("all checks passed")
