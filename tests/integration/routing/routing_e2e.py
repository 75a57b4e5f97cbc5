#!/usr/bin/env python3
"""End-to-end tests of `moe-sweep routing`, `analyze` and tools/figures.py on a made checkpoint.

Usage: routing_e2e.py check|demo WORK_DIR
  check  statistics of a made checkpoint against `moe-sweep trace` of the same prompts, by the
         independent numpy computation of check_routing_stats.py, for each importance variant
         (and raw logits against the trace's logits rounded to bf16); a config without a
         routing list is refused with a one-line error
  demo   routing over small FLORES-format files in six languages; analyze (without, then with
         a per-language accuracy CSV), status and report on that output, figures.py; checks the tables printed, the stored analysis and that
         every PNG exists and is not blank
Environment: MOE_CLI (the moe-sweep binary), MOE_SOURCE_DIR, MOE_TEST_PYTHON.
Runs with Debian's /usr/bin/python3 + python3-numpy + python3-h5py + python3-matplotlib.
"""
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

CLI = os.environ["MOE_CLI"]
SRC = os.environ["MOE_SOURCE_DIR"]
PY = os.environ.get("MOE_TEST_PYTHON", sys.executable)
HERE = os.path.dirname(os.path.abspath(__file__))

# Eight parallel sentences (FLORES style: one per line, index-aligned across languages).
SENTENCES = {
    "eng_Latn": [
        "The committee met on Tuesday to discuss the new budget.",
        "Scientists discovered a new species of frog in the rainforest.",
        "The train to the city leaves every twenty minutes.",
        "She learned to play the piano when she was seven years old.",
        "Heavy rain caused flooding in several villages near the river.",
        "The museum will open a new exhibition about ancient Egypt.",
        "Many people prefer to work from home two days a week.",
        "The final match of the tournament was watched by millions.",
    ],
    "deu_Latn": [
        "Der Ausschuss traf sich am Dienstag, um den neuen Haushalt zu besprechen.",
        "Wissenschaftler entdeckten eine neue Froschart im Regenwald.",
        "Der Zug in die Stadt fährt alle zwanzig Minuten ab.",
        "Sie lernte Klavier spielen, als sie sieben Jahre alt war.",
        "Starker Regen verursachte Überschwemmungen in mehreren Dörfern am Fluss.",
        "Das Museum eröffnet eine neue Ausstellung über das alte Ägypten.",
        "Viele Menschen arbeiten lieber zwei Tage pro Woche von zu Hause aus.",
        "Das Endspiel des Turniers wurde von Millionen gesehen.",
    ],
    "fra_Latn": [
        "Le comité s'est réuni mardi pour discuter du nouveau budget.",
        "Des scientifiques ont découvert une nouvelle espèce de grenouille dans la forêt.",
        "Le train pour la ville part toutes les vingt minutes.",
        "Elle a appris à jouer du piano à l'âge de sept ans.",
        "De fortes pluies ont provoqué des inondations dans plusieurs villages.",
        "Le musée ouvrira une nouvelle exposition sur l'Égypte ancienne.",
        "Beaucoup de gens préfèrent travailler chez eux deux jours par semaine.",
        "La finale du tournoi a été regardée par des millions de personnes.",
    ],
    "spa_Latn": [
        "El comité se reunió el martes para discutir el nuevo presupuesto.",
        "Los científicos descubrieron una nueva especie de rana en la selva.",
        "El tren a la ciudad sale cada veinte minutos.",
        "Aprendió a tocar el piano cuando tenía siete años.",
        "Las fuertes lluvias causaron inundaciones en varios pueblos cerca del río.",
        "El museo abrirá una nueva exposición sobre el antiguo Egipto.",
        "Mucha gente prefiere trabajar desde casa dos días a la semana.",
        "La final del torneo fue vista por millones de personas.",
    ],
    "zho_Hans": [
        "委员会星期二开会讨论新的预算。",
        "科学家在雨林中发现了一种新的青蛙。",
        "去城里的火车每二十分钟发一班。",
        "她七岁时学会了弹钢琴。",
        "大雨导致河边几个村庄被淹。",
        "博物馆将举办一个关于古埃及的新展览。",
        "许多人更喜欢每周在家工作两天。",
        "数百万人观看了锦标赛的决赛。",
    ],
    "swh_Latn": [
        "Kamati ilikutana Jumanne kujadili bajeti mpya.",
        "Wanasayansi waligundua aina mpya ya chura katika msitu wa mvua.",
        "Treni ya kwenda mjini huondoka kila dakika ishirini.",
        "Alijifunza kupiga piano alipokuwa na umri wa miaka saba.",
        "Mvua kubwa ilisababisha mafuriko katika vijiji kadhaa karibu na mto.",
        "Jumba la makumbusho litafungua maonyesho mapya kuhusu Misri ya kale.",
        "Watu wengi hupendelea kufanya kazi nyumbani siku mbili kwa wiki.",
        "Fainali ya mashindano ilitazamwa na mamilioni ya watu.",
    ],
}
CODES = {"eng_Latn": "en", "deu_Latn": "de", "fra_Latn": "fr", "spa_Latn": "es",
         "zho_Hans": "zh", "swh_Latn": "sw"}


def run(args, **kw):
    print("+ " + " ".join(args), flush=True)
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    print(r.stdout, flush=True)
    if r.returncode != 0:
        raise SystemExit("command failed with exit code %d: %s" % (r.returncode, " ".join(args)))
    return r.stdout


def make_model(work):
    model = os.path.join(work, "model")
    run([CLI, "make-model", model, "--family", "qwen3_moe", "--preset", "tiny", "--seed", "3"])
    return model


def write_flores(work, languages):
    d = os.path.join(work, "flores")
    os.makedirs(d, exist_ok=True)
    for code in languages:
        with open(os.path.join(d, code + ".dev"), "w", encoding="utf-8") as f:
            f.write("\n".join(SENTENCES[code]) + "\n")
    return d


def write_config(work, model, flores, languages, backend, prompt):
    path = os.path.join(work, "routing.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("""name: routing-e2e
output: %s
models:
  tiny:
    path: %s
    backend: %s
corpora:
  flores:
    format: flores
    path: %s
    split: dev
    prompt: %s
statistics:
  importance: topk_renorm
  tokens: all
  consistency_pairs: 60
  seed: 11
routing:
  - corpus: flores
    languages: [%s]
""" % (os.path.join(work, "out"), model, backend, flores, prompt, ", ".join(languages)))
    return path


def check(work):
    model = make_model(work)
    langs = ["en", "de", "zh"]
    flores = write_flores(work, [c for c, l in CODES.items() if l in langs])
    # raw prompts: the trace encodes each line as the tokenizer's encode() does
    cfg = write_config(work, model, flores, langs, "cpu", "raw")
    checker = os.path.join(HERE, "check_routing_stats.py")
    check_bad_config(work, cfg)
    for variant in ["topk_renorm", "router_weights", "softmax"]:
        out = os.path.join(work, "stats_%s.h5" % variant)
        extra = ["statistics.raw_logits=true"] if variant == "softmax" else []
        run([CLI, "routing", cfg, "statistics.importance=" + variant, *extra, "--out", out])
        for lang in langs:
            code = [c for c, l in CODES.items() if l == lang][0]
            trace = os.path.join(work, "trace_%s.h5" % lang)
            if not os.path.exists(trace):
                run([CLI, "trace", model, "--backend", "cpu", "--prompts",
                     os.path.join(flores, code + ".dev"), "--out", trace])
            run([PY, checker, out, "/routing/tiny/flores/" + lang, trace])
            if extra:
                check_raw_logits(out, "/routing/tiny/flores/" + lang, trace)


def check_bad_config(work, cfg):
    """A config without a routing list is refused with one line naming the key."""
    bad = os.path.join(work, "no_routing.yaml")
    with open(cfg, encoding="utf-8") as f:
        text = f.read()
    with open(bad, "w", encoding="utf-8") as f:
        f.write(text[:text.index("routing:")])
    r = subprocess.run([CLI, "routing", bad], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    # Log lines ("[hh:mm:ss] [info] ...") share stderr with the error.
    lines = [l for l in r.stderr.strip().splitlines() if not l.startswith("[")]
    if (r.returncode == 0 or len(lines) != 1 or "no_routing.yaml" not in lines[0]
            or "routing" not in lines[0].split("no_routing.yaml", 1)[1]):
        raise SystemExit("routing without a routing list: exit %d, stderr %r"
                         % (r.returncode, r.stderr))
    print("ok   refused: %s" % lines[0])


def check_raw_logits(stats, group, trace):
    """Raw logits are the trace's router logits rounded to bf16 (round to nearest even)."""
    with h5py.File(stats, "r") as sf, h5py.File(trace, "r") as tf:
        g = sf[group]
        raw = np.asarray(g["raw_logits"][()], dtype=np.uint32) << 16
        raw = raw.view(np.float32)
        off = g["raw_offsets"][()]
        layers = [int(x) for x in g["layers"][()]]
        for i, name in enumerate(sorted(k for k in tf if k.startswith("prompt_"))):
            for li, layer in enumerate(layers):
                z = np.asarray(tf[name]["layer_%02d" % layer]["router_logits"][()], np.float32)
                bits = z.view(np.uint32).astype(np.uint64)
                rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint32) << 16
                want = rounded.view(np.float32)
                got = raw[off[i]:off[i + 1], li]
                if not np.array_equal(got, want):
                    raise SystemExit("FAIL %s raw_logits of sequence %d layer %d differ from "
                                     "the trace rounded to bf16" % (group, i, layer))
        print("ok   %s raw_logits equal the trace's router logits rounded to bf16" % group)


def png_is_drawn(path):
    """A PNG that exists, is a few KB and is not one flat colour."""
    import matplotlib.image as mpimg
    if not os.path.exists(path) or os.path.getsize(path) < 5000:
        return False
    img = mpimg.imread(path)
    return float(np.asarray(img, dtype=np.float64).std()) > 0.01


def demo(work):
    model = make_model(work)
    flores = write_flores(work, list(SENTENCES))
    langs = list(CODES.values())
    cfg = write_config(work, model, flores, langs, "cpu", "chat")
    out = os.path.join(work, "routing.h5")
    run([CLI, "routing", cfg, "--out", out])
    acc = os.path.join(work, "accuracy.csv")
    with open(acc, "w") as f:
        f.write("language,accuracy\nen,0.82\nde,0.71\nfr,0.74\nes,0.73\nzh,0.55\nsw,0.31\n")
    # The routing output on its own: analyze without accuracies (the file's /accuracy has no
    # rows), status of its output directory and of its config, and report (nothing scored).
    text = run([CLI, "analyze", out])
    if "divergence from 'en'" not in text or "correlation" in text:
        raise SystemExit("analyze without accuracies: unexpected output")
    out_dir = os.path.join(work, "out")
    for target in (out_dir, cfg):
        text = run([CLI, "status", target])
        if "units    6 of 6 done" not in text:
            raise SystemExit("status %s does not show the 6 statistics units done" % target)
    text = run([CLI, "report", out])
    if "no scored points" not in text or "moe-sweep analyze" not in text:
        raise SystemExit("report of a routing output: unexpected output")
    text = run([CLI, "analyze", out, "--accuracy", acc, "--tau", "0.2"])
    for needle in ["divergence from 'en'", "routing entropy", "token routing consistency",
                   "correlation of divergence with accuracy across 5 languages",
                   "flores.multilingual.delta_threshold"]:
        if needle not in text:
            raise SystemExit("analyze output lacks %r" % needle)
    with h5py.File(out, "r") as f:
        g = f["analysis/tiny/flores"]
        div = g["divergence"][()]
        langs_stored = [x.decode() if isinstance(x, bytes) else x for x in g["languages"][()]]
        en = langs_stored.index("en")
        if not (np.all(div[en] == 0) and np.all(np.isfinite(div)) and np.all(div >= 0)):
            raise SystemExit("unexpected divergence curves: %r" % div)
        if not np.allclose(np.diagonal(g["similarity"][()], axis1=1, axis2=2), 1.0):
            raise SystemExit("similarity diagonal is not 1")
        if "experts" not in f or "tiny" not in f["experts"]:
            raise SystemExit("no expert sets stored")
    run([PY, os.path.join(SRC, "tests", "integration", "sweep", "check_schema.py"), out])
    figs = os.path.join(work, "figures")
    printed = run([PY, os.path.join(SRC, "tools", "figures.py"), out, "--out", figs]).split()
    want = ["divergence_tiny_flores.png", "entropy_tiny_flores.png",
            "consistency_tiny_flores.png", "similarity_tiny_flores.png",
            "delta_tiny_flores.png", "experts_tiny.png"]
    for name in want:
        p = os.path.join(figs, name)
        if p not in printed or not png_is_drawn(p):
            raise SystemExit("figure %s missing or blank" % p)
        print("ok   %s (%d bytes)" % (p, os.path.getsize(p)))


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("check", "demo"):
        raise SystemExit(__doc__)
    work = sys.argv[2]
    if os.path.isdir(work):  # nothing of an earlier run (model, traces, unit files) is reused
        shutil.rmtree(work)
    os.makedirs(work)
    {"check": check, "demo": demo}[sys.argv[1]](work)


if __name__ == "__main__":
    main()
