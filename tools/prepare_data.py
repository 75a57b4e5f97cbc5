#!/usr/bin/env python3
"""Downloads the studies' datasets from the Hugging Face Hub once and writes them in the native
formats moe-sweep reads (sweeps/METHODS.md E), in the layout the configs in configs/ expect under
$MOE_DATA:

  $MOE_DATA/
    mgsm/mgsm_{lang}.tsv                        MGSM test problems: question TAB answer_number
    mgsm/train/mgsm_{lang}.tsv                  MGSM exemplars (the `exemplars:` pool of the configs)
    gsm8k/train.jsonl, gsm8k/test.jsonl         GSM8K {question, answer ending in "#### n"}
    global_mmlu/{lang}.jsonl                    Global-MMLU test rows {sample_id, subject, question,
                                                option_a..option_d, answer}
    belebele/{flores code}.jsonl                Belebele rows as released
    xquad/xquad.{lang}.json                     XQuAD as a SQuAD v1.1 JSON document
    polymath/{lang}/{level}.jsonl               PolyMath {id, question, answer}, level low..top
    flores200_dataset/{split}/{flores code}.{split}   FLORES-200 dev/devtest, one sentence per line

Not prepared here: medical_instructions.jsonl (the medical task-expert corpus of the Global-MMLU
configs, a JSON Lines file with a "text" field); its source is not fixed by moe-sweep.

Usage (on a machine with internet; the sweep itself never downloads anything):
  pip install datasets huggingface_hub
  huggingface-cli login        # FLORES+ is gated: accept its terms on the Hub page first
  python3 tools/prepare_data.py --out "$MOE_DATA"                       # everything
  python3 tools/prepare_data.py --out "$MOE_DATA" --datasets mgsm,flores --languages en,de,sw
Existing files are kept (the script resumes); --force rewrites them. Every file is written to a
temporary name and renamed into place, so an interrupted run leaves no half-written file.

Hugging Face dataset ids, configs and splits used (DATASETS below). They are the well-known ids,
but they were written down without access to the Hub: check them on the first run (a wrong id or
config fails with the library's message, naming it):
  mgsm        juletxara/mgsm, config = language (bn de en es fr ja ru sw te th zh),
              splits test (250 rows) and train (8 exemplars, questions with a "Question:" label)
  gsm8k       openai/gsm8k, config main, splits train and test
  global_mmlu CohereForAI/Global-MMLU (now also CohereLabs/Global-MMLU), config = language,
              split test
  belebele    facebook/belebele, config = FLORES-200 code (eng_Latn), split test
  xquad       google/xquad, config xquad.{lang}, split validation (flattened SQuAD rows)
  polymath    Qwen/PolyMath, config = language, splits low, medium, high, top
  flores      openlanguagedata/flores_plus (gated), config = FLORES code (eng_Latn; Chinese is
              cmn_Hans there), splits dev and devtest, text field "text"; --flores-id
              facebook/flores selects the original FLORES-200 (field "sentence"; a loading script,
              which needs an older `datasets`).
The conversion functions below take plain rows (lists of dicts) and need no pip package, so they
are tested offline (tests/integration/data) by running moe-sweep's own loaders on their output.
"""
import argparse
import json
import os
import re
import sys

# Languages of the shipped configs for each dataset (the default of --languages).
MGSM_LANGS = ["en", "bn", "de", "es", "fr", "ja", "ru", "sw", "te", "th", "zh"]
GMMLU_LANGS = ["en", "ar", "bn", "de", "es", "fr", "hi", "id", "it", "ja", "ko", "pt", "sw", "yo",
               "zh"]
XQUAD_LANGS = ["en", "ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh"]
POLYMATH_LANGS = ["en", "zh", "ar", "bn", "de", "es", "fr", "id", "it", "ja", "ko", "ms", "pt",
                  "ru", "sw", "te", "th", "vi"]
POLYMATH_LEVELS = ["low", "medium", "high", "top"]

# FLORES-200 codes (the file names moe-sweep's language table knows) of every language above, and
# the FLORES+ config where it differs.
FLORES_CODES = {
    "en": "eng_Latn", "ar": "arb_Arab", "bn": "ben_Beng", "de": "deu_Latn", "el": "ell_Grek",
    "es": "spa_Latn", "fr": "fra_Latn", "hi": "hin_Deva", "id": "ind_Latn", "it": "ita_Latn",
    "ja": "jpn_Jpan", "ko": "kor_Hang", "ms": "zsm_Latn", "pt": "por_Latn", "ro": "ron_Latn",
    "ru": "rus_Cyrl", "sw": "swh_Latn", "te": "tel_Telu", "th": "tha_Thai", "tr": "tur_Latn",
    "vi": "vie_Latn", "yo": "yor_Latn", "zh": "zho_Hans",
}
FLORES_PLUS_CONFIG = {"zh": "cmn_Hans"}
FLORES_LANGS = sorted(FLORES_CODES)
BELEBELE_LANGS = FLORES_LANGS


class DataError(ValueError):
    """A row that cannot be written in the native format (names the dataset, row and field)."""


# ---------------------------------------------------------------------------------------------
# Writing (atomic) and row checks

def _write_text(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def _write_jsonl(path, objects):
    _write_text(path, "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects))


def _field(row, key, where, i):
    if key not in row or row[key] is None:
        raise DataError(f"{where}: row {i}: expected a field '{key}', found none "
                        f"(fields: {', '.join(sorted(row))})")
    return row[key]


def _text(row, key, where, i):
    value = _field(row, key, where, i)
    if not isinstance(value, str):
        raise DataError(f"{where}: row {i}: expected '{key}' to be a string, found {value!r}")
    return value


def _number_text(value, where):
    """An answer number as MGSM's TSV writes it: 18, 2.5 (an integral float loses its .0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise DataError(f"{where}: expected a number, found {value!r}")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if not text:
        raise DataError(f"{where}: expected a number, found an empty string")
    return text


def _one_line(text):
    """TSV and FLORES lines cannot hold tabs or line breaks: they become single spaces."""
    return re.sub(r"[\t\r\n]+", " ", text).strip()


# ---------------------------------------------------------------------------------------------
# Conversions: plain rows (dicts as the Hub's datasets give them) -> native files

# The label juletxara/mgsm's train questions start with ("Question:", "Frage:", "问题：",
# "Question :"); moe-sweep's prompt builder adds the label itself.
_MGSM_LABEL = re.compile(r"^[^\s:：]+ ?[:：]\s*")


def write_mgsm_tsv(rows, path, exemplars=False):
    """MGSM TSV (no header): question TAB answer_number. exemplars: rows of the train split,
    whose questions carry the localised question label, which is removed."""
    lines = []
    for i, row in enumerate(rows):
        question = _one_line(_text(row, "question", path, i))
        if exemplars:
            question = _MGSM_LABEL.sub("", question, count=1)
        answer = _number_text(_field(row, "answer_number", path, i), f"{path}: row {i}")
        if not question:
            raise DataError(f"{path}: row {i}: expected a question, found an empty one")
        lines.append(f"{question}\t{_one_line(answer)}\n")
    _write_text(path, "".join(lines))
    return len(lines)


def write_gsm8k_jsonl(rows, path):
    out = []
    for i, row in enumerate(rows):
        answer = _text(row, "answer", path, i)
        if "####" not in answer:
            raise DataError(f"{path}: row {i}: expected an answer ending in '#### n', "
                            f"found {answer[-40:]!r}")
        out.append({"question": _text(row, "question", path, i), "answer": answer})
    _write_jsonl(path, out)
    return len(out)


GMMLU_FIELDS = ["sample_id", "subject", "question", "option_a", "option_b", "option_c", "option_d",
                "answer"]


def write_gmmlu_jsonl(rows, path):
    """Global-MMLU rows with the fields moe-sweep reads (sample_id kept for the parallel check)."""
    out = []
    for i, row in enumerate(rows):
        o = {k: _field(row, k, path, i) for k in GMMLU_FIELDS if k != "sample_id"}
        if row.get("sample_id") is not None:
            o = {"sample_id": row["sample_id"], **o}
        if str(o["answer"]).strip() not in ("A", "B", "C", "D"):
            raise DataError(f"{path}: row {i}: expected answer A, B, C or D, found {o['answer']!r}")
        out.append(o)
    _write_jsonl(path, out)
    return len(out)


BELEBELE_FIELDS = ["link", "question_number", "flores_passage", "question", "mc_answer1",
                   "mc_answer2", "mc_answer3", "mc_answer4", "correct_answer_num"]


def write_belebele_jsonl(rows, path):
    """Belebele rows as released (dialect, ds and other fields kept)."""
    out = []
    for i, row in enumerate(rows):
        for k in BELEBELE_FIELDS:
            _field(row, k, path, i)
        if str(row["correct_answer_num"]).strip() not in ("1", "2", "3", "4"):
            raise DataError(f"{path}: row {i}: expected correct_answer_num 1..4, "
                            f"found {row['correct_answer_num']!r}")
        out.append(dict(row))
    _write_jsonl(path, out)
    return len(out)


def write_xquad_json(rows, path):
    """XQuAD as the SQuAD v1.1 document of its release, from the Hub's flattened rows
    {id, context, question, answers: {text: [...], answer_start: [...]}}: consecutive rows with
    the same context form one paragraph; one article holds them all."""
    paragraphs = []
    for i, row in enumerate(rows):
        context = _text(row, "context", path, i)
        answers = _field(row, "answers", path, i)
        texts, starts = answers.get("text") or [], answers.get("answer_start") or []
        if not texts or len(texts) != len(starts):
            raise DataError(f"{path}: row {i}: expected answers with as many texts as "
                            f"answer_starts (at least one), found {answers!r}")
        qa = {"id": str(_field(row, "id", path, i)), "question": _text(row, "question", path, i),
              "answers": [{"answer_start": int(s), "text": t} for t, s in zip(texts, starts)]}
        if not paragraphs or paragraphs[-1]["context"] != context:
            paragraphs.append({"context": context, "qas": []})
        paragraphs[-1]["qas"].append(qa)
    doc = {"version": "1.1", "data": [{"title": "xquad", "paragraphs": paragraphs}]}
    _write_text(path, json.dumps(doc, ensure_ascii=False) + "\n")
    return sum(len(p["qas"]) for p in paragraphs)


def write_polymath_jsonl(rows, path):
    out = []
    for i, row in enumerate(rows):
        answer = _field(row, "answer", path, i)
        if str(answer).strip() == "":
            raise DataError(f"{path}: row {i}: expected a gold answer, found an empty one")
        out.append({"id": _field(row, "id", path, i), "question": _text(row, "question", path, i),
                    "answer": answer})
    _write_jsonl(path, out)
    return len(out)


def write_flores(rows, path, field="text"):
    """FLORES text file: one sentence per line, in the order of the rows' `id` when they have one
    (the sentence order is what makes the languages parallel)."""
    if rows and all("id" in r for r in rows):
        rows = sorted(rows, key=lambda r: int(r["id"]))
    lines = []
    for i, row in enumerate(rows):
        sentence = _one_line(_text(row, field, path, i))
        if not sentence:
            raise DataError(f"{path}: row {i}: expected a sentence, found an empty one")
        lines.append(sentence + "\n")
    _write_text(path, "".join(lines))
    return len(lines)


# ---------------------------------------------------------------------------------------------
# What each dataset downloads and where it goes. fetch(dataset_id, config, split) -> list of dicts.

DATASETS = {
    "mgsm": {"id": "juletxara/mgsm", "languages": MGSM_LANGS},
    "gsm8k": {"id": "openai/gsm8k", "languages": None},
    "global_mmlu": {"id": "CohereForAI/Global-MMLU", "languages": GMMLU_LANGS},
    "belebele": {"id": "facebook/belebele", "languages": BELEBELE_LANGS},
    "xquad": {"id": "google/xquad", "languages": XQUAD_LANGS},
    "polymath": {"id": "Qwen/PolyMath", "languages": POLYMATH_LANGS},
    "flores": {"id": "openlanguagedata/flores_plus", "languages": FLORES_LANGS},
}


def _flores_code(lang):
    if lang not in FLORES_CODES:
        raise DataError(f"--languages: no FLORES code known for '{lang}' "
                        f"(known: {', '.join(sorted(FLORES_CODES))})")
    return FLORES_CODES[lang]


def jobs(name, out, lang, dataset_id):
    """The files of one dataset and language: (path, config, split, write(rows, path))."""
    if name == "mgsm":
        return [(os.path.join(out, "mgsm", f"mgsm_{lang}.tsv"), lang, "test", write_mgsm_tsv),
                (os.path.join(out, "mgsm", "train", f"mgsm_{lang}.tsv"), lang, "train",
                 lambda rows, path: write_mgsm_tsv(rows, path, exemplars=True))]
    if name == "gsm8k":
        return [(os.path.join(out, "gsm8k", f"{split}.jsonl"), "main", split, write_gsm8k_jsonl)
                for split in ("train", "test")]
    if name == "global_mmlu":
        return [(os.path.join(out, "global_mmlu", f"{lang}.jsonl"), lang, "test",
                 write_gmmlu_jsonl)]
    if name == "belebele":
        code = _flores_code(lang)
        return [(os.path.join(out, "belebele", f"{code}.jsonl"), code, "test",
                 write_belebele_jsonl)]
    if name == "xquad":
        return [(os.path.join(out, "xquad", f"xquad.{lang}.json"), f"xquad.{lang}", "validation",
                 write_xquad_json)]
    if name == "polymath":
        return [(os.path.join(out, "polymath", lang, f"{level}.jsonl"), lang, level,
                 write_polymath_jsonl) for level in POLYMATH_LEVELS]
    if name == "flores":
        code = _flores_code(lang)
        original = dataset_id == "facebook/flores"
        config = code if original else FLORES_PLUS_CONFIG.get(lang, code)
        field = "sentence" if original else "text"
        return [(os.path.join(out, "flores200_dataset", split, f"{code}.{split}"), config, split,
                 lambda rows, path, f=field: write_flores(rows, path, f))
                for split in ("dev", "devtest")]
    raise DataError(f"--datasets: expected one of {', '.join(DATASETS)}, found '{name}'")


def prepare(name, out, languages, fetch, dataset_id=None, force=False, log=print):
    """Downloads (through fetch) and writes every file of one dataset; returns the paths written."""
    dataset_id = dataset_id or DATASETS[name]["id"]
    written = []
    for lang in (languages if DATASETS[name]["languages"] is not None else [None]):
        for path, config, split, write in jobs(name, out, lang, dataset_id):
            if os.path.exists(path) and not force:
                log(f"kept    {path}")
                continue
            n = write(fetch(dataset_id, config, split), path)
            log(f"wrote   {path} ({n} rows from {dataset_id} {config} {split})")
            written.append(path)
    return written


# ---------------------------------------------------------------------------------------------
# Downloading (the only part that needs pip packages)

def hub_fetch(cache_dir=None):
    try:
        import datasets  # noqa: F401  (pip install datasets huggingface_hub)
    except ImportError:
        sys.exit("prepare_data.py: the Python package 'datasets' is missing; install it with "
                 "`pip install datasets huggingface_hub` (downloading needs internet access)")

    def fetch(dataset_id, config, split):
        ds = datasets.load_dataset(dataset_id, config, split=split, cache_dir=cache_dir)
        return [dict(r) for r in ds]
    return fetch


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.environ.get("MOE_DATA"),
                   help="target directory, the configs' $MOE_DATA (default: $MOE_DATA)")
    p.add_argument("--datasets", default=",".join(DATASETS),
                   help=f"comma-separated subset of {','.join(DATASETS)}")
    p.add_argument("--languages", help="comma-separated language codes instead of each "
                   "dataset's default (the shipped configs' languages)")
    p.add_argument("--flores-id", default=DATASETS["flores"]["id"],
                   help="openlanguagedata/flores_plus (default) or facebook/flores")
    p.add_argument("--cache-dir", help="Hugging Face datasets cache directory")
    p.add_argument("--force", action="store_true", help="rewrite files that exist already")
    a = p.parse_args(argv)
    if not a.out:
        p.error("--out is required when MOE_DATA is not set")
    names = [n for n in a.datasets.split(",") if n]
    for n in names:
        if n not in DATASETS:
            p.error(f"--datasets: expected names from {', '.join(DATASETS)}, found '{n}'")
    fetch = hub_fetch(a.cache_dir)
    for n in names:
        langs = a.languages.split(",") if a.languages else DATASETS[n]["languages"]
        prepare(n, a.out, langs, fetch, a.flores_id if n == "flores" else None, a.force)
    print("not prepared here: medical_instructions.jsonl (JSON Lines with a 'text' field), the "
          "medical corpus of the Global-MMLU configs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
