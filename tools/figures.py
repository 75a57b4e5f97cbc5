#!/usr/bin/env python3
"""Draws the routing studies' figures from a moe-sweep results file.

Usage: tools/figures.py RESULTS.h5 --out DIR

Reads /analysis/{model}/{corpus} and /experts/{model}/... (written by `moe-sweep analyze` and by
a sweep's expert phase, see results/SCHEMA.md), /routing/... (statistics) and, for a sweep's
merged file, /points and /accuracy; writes one PNG per figure and (model, corpus) or (model,
task):
  divergence_{model}_{corpus}.png   divergence from the reference per layer, one colour per
                                    language, each language's accuracy in the legend when the
                                    file has accuracies
  entropy_{model}_{corpus}.png      mean per-token routing entropy per layer (ln E dotted)
  consistency_{model}_{corpus}.png  token routing consistency per layer
  similarity_{model}_{corpus}.png   cross-language similarity (1 - JSD), mean over middle layers,
                                    on the fixed scale [0, 1]
  delta_{model}_{corpus}.png        distribution of Delta (frequency difference) of the
                                    language/task expert rules, with tau
  experts_{model}.png               experts selected per layer by each expert set (analyze's
                                    rules and the sweep's own sets)
  interventions_{model}_{task}.png  per-language accuracy change against the baseline with its
                                    95% confidence interval, for the best point of each method
  grid_{model}_{task}.png           mean accuracy over languages by layer window x parameters,
                                    one panel per method
Every figure carries a provenance line (sweep, model, corpus or task, n, statistic). A corpus
with one language gets no cross-language figure (a note says so). Layers are printed as the
config writes them (its layer_indexing). Prints the paths it wrote and its notes.
Runs with Debian's python3 + python3-matplotlib + python3-h5py.
"""
import argparse
import math
import os
import re
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return str(v)


def strings(ds):
    return [text(x) for x in ds[()]]


def safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def layer_base(f):
    """1 where the sweep's config writes layers 1-indexed (the file's are 0-indexed)."""
    return 1 if text(f.attrs.get("layer_indexing", "zero_based")) == "one_based" else 0


def sweep_name(f):
    return text(f.attrs.get("name", os.path.basename(f.filename)))


def routing_attrs(f, model, corpus):
    """Attributes of the first statistics group of (model, corpus), or {}."""
    if "routing" in f and model in f["routing"] and corpus in f["routing"][model]:
        return dict(next(iter(f["routing"][model][corpus].values())).attrs)
    return {}


def provenance(fig, line, y=0.005):
    fig.text(0.01, y, line, fontsize=6, color="0.35", ha="left", va="bottom")


def corpus_provenance(f, model, corpus, g):
    n = np.asarray(g["num_sequences"][()], dtype=np.int64)
    attrs = routing_attrs(f, model, corpus)
    stat = text(attrs.get("importance", "?"))
    ns = "%d" % n.min() if n.min() == n.max() else "%d-%d" % (n.min(), n.max())
    return ("%s: model %s, corpus %s, n = %s sequences per language, routing statistic: "
            "importance %s, tokens %s" % (sweep_name(f), model, corpus, ns, stat,
                                          text(attrs.get("tokens", "?"))))


def layer_axis(ax, base, label="MoE layer"):
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(label + (" (1-indexed)" if base else ""))


def middle_span(ax, g, base):
    a, b = int(g.attrs["middle_first"]) + base, int(g.attrs["middle_last"]) + base
    ax.axvspan(a - 0.5, b + 0.5, color="0.9", zorder=0, label="middle layers")


def save(fig, out, name, written):
    path = os.path.join(out, name)
    fig.tight_layout(rect=(0, 0.03, 1, 1))  # room for the provenance line
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)


def layer_lines(f, g, key, ylabel, title, prov, out, name, written, with_accuracy=False,
                skip=(), hline=None):
    base = layer_base(f)
    langs = strings(g["languages"])
    data = np.asarray(g[key][()], dtype=float)
    acc = np.asarray(g["accuracy"][()], dtype=float)
    x = np.arange(data.shape[1]) + base
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    middle_span(ax, g, base)
    colours = plt.get_cmap("tab10" if len(langs) <= 10 else "tab20")
    have_acc = with_accuracy and np.isfinite(acc).any()
    for i, lang in enumerate(langs):
        if lang in skip or not np.isfinite(data[i]).any():
            continue
        label = lang
        if have_acc:
            label = "%s (acc %s)" % (lang, "%.2f" % acc[i] if np.isfinite(acc[i]) else "-")
        ax.plot(x, data[i], color=colours(i % colours.N), marker="o", ms=3, label=label)
    if hline is not None:
        ax.axhline(hline[0], color="k", linestyle=":", linewidth=1, label=hline[1])
    layer_axis(ax, base)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    legend_title = None
    if have_acc:
        src = text(f["analysis"].attrs.get("accuracy_source", ""))
        legend_title = "accuracy: " + (os.path.basename(src) if src else "given")
    ax.legend(fontsize=7, ncol=2, title=legend_title, title_fontsize=7,
              loc="upper left", bbox_to_anchor=(1.01, 1.0))
    provenance(fig, prov)
    save(fig, out, name, written)


def similarity_figure(f, model, corpus, g, prov, out, tag, written):
    base = layer_base(f)
    langs = strings(g["languages"])
    sim = np.asarray(g["similarity"][()], dtype=float)
    a, b = int(g.attrs["middle_first"]), int(g.attrs["middle_last"])
    m = sim[a:b + 1].mean(axis=0)
    side = max(4.2, 1.6 + 0.55 * len(langs))
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    im = ax.imshow(m, cmap="magma", vmin=0.0, vmax=1.0)
    if len(langs) <= 12:
        for i in range(len(langs)):
            for j in range(len(langs)):
                ax.text(j, i, "%.3f" % m[i, j], ha="center", va="center", fontsize=6,
                        color="w" if m[i, j] < 0.5 else "k")
    ax.set_xticks(range(len(langs)))
    ax.set_xticklabels(langs, rotation=60, fontsize=8)
    ax.set_yticks(range(len(langs)))
    ax.set_yticklabels(langs, fontsize=8)
    fig.colorbar(im, ax=ax, label="1 - JSD of mean importance", fraction=0.046, pad=0.04)
    ax.set_title("%s / %s\nsimilarity, mean over layers %d-%d" % (model, corpus, a + base,
                                                                 b + base), fontsize=9)
    provenance(fig, prov)
    save(fig, out, "similarity_%s.png" % tag, written)


def delta_figure(f, model, corpus, prov, out, tag, written):
    sets = []
    if "experts" in f and model in f["experts"]:
        for name, s in f["experts"][model].items():
            if text(s.attrs.get("rule", "")) == "delta_threshold" and "scores" in s and \
                    text(s.attrs.get("corpus", "")) == corpus:
                sets.append((name, s))
    if not sets:
        return
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    tau = None
    for name, s in sets:
        d = np.asarray(s["scores"][()], dtype=float).ravel()
        ax.hist(d, bins=40, histtype="step", label=text(s.attrs["target"]))
        tau = float(text(s.attrs["param_tau"]))
    ax.axvline(tau, color="k", linestyle=":", label="tau = %g" % tau)
    ax.set_yscale("log")
    ax.set_xlabel("Delta (activation frequency difference)")
    ax.set_ylabel("experts x layers")
    ax.set_title("%s / %s: Delta distribution" % (model, corpus), fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    provenance(fig, prov)
    save(fig, out, "delta_%s.png" % tag, written)


def corpus_figures(f, model, corpus, out, written, notes):
    g = f["analysis"][model][corpus]
    tag = "%s_%s" % (safe(model), safe(corpus))
    ref = text(g.attrs["reference"])
    langs = strings(g["languages"])
    prov = corpus_provenance(f, model, corpus, g)
    if len(langs) > 1:
        layer_lines(f, g, "divergence", "entropy-normalised JSD from '%s'" % ref,
                    "%s / %s: divergence from %s" % (model, corpus, ref), prov, out,
                    "divergence_%s.png" % tag, written, with_accuracy=True, skip=(ref,))
    else:
        notes.append("%s / %s: one language (%s): no divergence or similarity figure"
                     % (model, corpus, langs[0]))
    num_experts = routing_attrs(f, model, corpus).get("num_experts")
    layer_lines(f, g, "entropy", "mean per-token entropy (nats)",
                "%s / %s: routing entropy" % (model, corpus), prov, out,
                "entropy_%s.png" % tag, written,
                hline=(math.log(int(num_experts)), "ln E") if num_experts else None)
    layer_lines(f, g, "consistency", "mean Jaccard of token pairs",
                "%s / %s: token routing consistency" % (model, corpus), prov, out,
                "consistency_%s.png" % tag, written)
    if len(langs) > 1:
        similarity_figure(f, model, corpus, g, prov, out, tag, written)
    delta_figure(f, model, corpus, prov, out, tag, written)


def set_label(name, s):
    """An expert set's legend label: analyze's name, or the sweep's rule and parameters."""
    if "source" in s.attrs:
        return name
    parts = [text(s.attrs.get("rule", name))]
    for k in ("tau", "K", "thr"):
        v = s.attrs.get(k)
        if v is not None and not (isinstance(v, float) and math.isnan(v)) and \
                not (isinstance(v, (int, np.integer)) and v < 0):
            parts.append("%s=%s" % (k, "%g" % v if isinstance(v, float) else v))
    return " ".join(parts)


def expert_figure(f, model, out, written, notes):
    base = layer_base(f)
    sets = f["experts"][model]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    drawn, empty = 0, 0
    colours = plt.get_cmap("tab20")
    for name, s in sets.items():
        key = "per_layer_count" if "per_layer_count" in s else "arrays/per_layer_count"
        if key not in s:
            continue
        counts = np.asarray(s[key][()], dtype=float)
        if counts.sum() == 0:
            empty += 1
            continue
        ax.plot(np.arange(len(counts)) + base, counts, marker="o", ms=3,
                label=set_label(name, s), color=colours(drawn % 20),
                linestyle=("-", "--", ":")[(drawn // 20) % 3])
        drawn += 1
    if drawn == 0:
        ax.text(0.5, 0.5, "no expert selected by any of the %d sets" % empty, ha="center",
                transform=ax.transAxes)
    layer_axis(ax, base)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("experts selected")
    ax.set_title("%s: experts selected per layer" % model, fontsize=10)
    if drawn:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    provenance(fig, "%s: model %s, %d expert sets (%d empty, not drawn)"
               % (sweep_name(f), model, drawn + empty, empty))
    save(fig, out, "experts_%s.png" % safe(model), written)
    if empty:
        notes.append("%s: %d expert sets select no expert (not drawn)" % (model, empty))


def table(f, name):
    """A merged table as {column: numpy array}; {} when the file has none or no rows."""
    if name not in f or "point" not in f[name]:
        return {}
    g = f[name]
    return {k: (np.array(strings(g[k])) if g[k].dtype.kind in "OSU" else g[k][()]) for k in g
            if isinstance(g[k], h5py.Dataset)}


def point_params(p, i):
    """A point's numeric parameters ("tau=0.3 lambda=0.5"), "-" for none."""
    parts = []
    for k, fmt in (("tau", "tau=%g"), ("lambda", "lambda=%g"), ("thr", "thr=%g")):
        if not math.isnan(float(p[k][i])):
            parts.append(fmt % p[k][i])
    if p["K"][i] >= 0:
        parts.append("K=%d" % p["K"][i])
    return " ".join(parts) or "-"


def point_label(p, i, base):
    """A point's method, rule, window and parameters (the report's wording)."""
    return "%s %s layers %d-%d %s" % (p["method"][i], p["rule"][i], p["layer_start"][i] + base,
                                      p["layer_end"][i] + base, point_params(p, i))


def intervention_figures(f, out, written, notes):
    p, acc = table(f, "points"), table(f, "accuracy")
    if not p or not acc:
        return
    base = layer_base(f)
    idx = {pid: i for i, pid in enumerate(p["point"])}
    for model, task in sorted(set(zip(p["model"], p["task"]))):
        rows = [i for i in range(len(p["point"])) if p["model"][i] == model and
                p["task"][i] == task]
        langs = list(dict.fromkeys(acc["language"][j] for j in range(len(acc["point"]))
                                   if acc["point"][j] in {p["point"][i] for i in rows}))
        baseline = [i for i in rows if p["method"][i] == "none"]
        if not baseline:
            notes.append("%s / %s: no baseline point: no intervention figures" % (model, task))
            continue
        by_point = {}
        for j in range(len(acc["point"])):
            by_point.setdefault(acc["point"][j], {})[acc["language"][j]] = j
        n = [int(acc["n"][j]) for j in by_point[p["point"][baseline[0]]].values()]
        prov = "%s: model %s, task %s, n = %s samples per language, 95%% CIs: paired " \
               "bootstrap" % (sweep_name(f), model, task,
                              "%d" % min(n) if min(n) == max(n) else "%d-%d" % (min(n), max(n)))

        def mean_delta(i):
            d = [float(acc["delta"][j]) for j in by_point.get(p["point"][i], {}).values()]
            d = [x for x in d if not math.isnan(x)]
            return sum(d) / len(d) if d else -math.inf

        kinds = {}
        for i in rows:
            if p["method"][i] == "none":
                continue
            kind = "%s %s%s" % (p["method"][i], p["rule"][i],
                                " " + p["direction"][i] if p["direction"][i] else "")
            kinds.setdefault(kind, []).append(i)
        if not kinds:
            continue
        tag = "%s_%s" % (safe(model), safe(task))
        # Per language: each method's best point (by mean delta), its delta and CI.
        fig, ax = plt.subplots(figsize=(max(7.5, 1.2 * len(langs) + 3), 4.5))
        width = 0.8 / len(kinds)
        colours = plt.get_cmap("tab10")
        for k, (kind, pts) in enumerate(sorted(kinds.items())):
            best = max(pts, key=mean_delta)
            js = by_point.get(p["point"][best], {})
            x = np.arange(len(langs)) + (k - (len(kinds) - 1) / 2) * width
            d = np.array([float(acc["delta"][js[l]]) if l in js else np.nan for l in langs])
            lo = np.array([float(acc["ci_low"][js[l]]) if l in js else np.nan for l in langs])
            hi = np.array([float(acc["ci_high"][js[l]]) if l in js else np.nan for l in langs])
            err = np.vstack([np.where(np.isfinite(lo), d - lo, 0),
                             np.where(np.isfinite(hi), hi - d, 0)])
            ax.bar(x, d, width, yerr=err, capsize=2, color=colours(k % 10),
                   label=point_label(p, best, base))
        ax.axhline(0, color="k", linewidth=0.8)
        ax.set_xticks(range(len(langs)))
        ax.set_xticklabels(langs)
        ax.set_ylabel("accuracy - baseline")
        ax.set_title("%s / %s: change against the baseline (best point of each method)"
                     % (model, task), fontsize=10)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        provenance(fig, prov)
        save(fig, out, "interventions_%s.png" % tag, written)

        # Mean accuracy over languages by layer window x parameters, a panel per method.
        base_mean = np.nanmean([float(acc["score"][j])
                                for j in by_point[p["point"][baseline[0]]].values()])
        fig, axes = plt.subplots(1, len(kinds), figsize=(4.8 * len(kinds) + 1.5, 4.2),
                                 squeeze=False)
        for ax, (kind, pts) in zip(axes[0], sorted(kinds.items())):
            windows = sorted({(int(p["layer_start"][i]), int(p["layer_end"][i])) for i in pts})
            params = sorted({point_params(p, i) for i in pts})
            grid = np.full((len(windows), len(params)), np.nan)
            for i in pts:
                prm = point_params(p, i)
                scores = [float(acc["score"][j]) for j in by_point.get(p["point"][i], {}).values()]
                grid[windows.index((int(p["layer_start"][i]), int(p["layer_end"][i]))),
                     params.index(prm)] = np.nanmean(scores) if scores else np.nan
            im = ax.imshow(grid, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
            for a_ in range(grid.shape[0]):
                for b_ in range(grid.shape[1]):
                    if np.isfinite(grid[a_, b_]):
                        ax.text(b_, a_, "%.3f" % grid[a_, b_], ha="center", va="center",
                                fontsize=7, color="w" if grid[a_, b_] < 0.5 else "k")
            ax.set_yticks(range(len(windows)))
            ax.set_yticklabels(["%d-%d" % (a + base, b + base) for a, b in windows], fontsize=7)
            ax.set_xticks(range(len(params)))
            ax.set_xticklabels(params, rotation=30, ha="right", fontsize=7)
            ax.set_ylabel("layers" + (" (1-indexed)" if base else ""))
            ax.set_title(kind, fontsize=9)
        fig.colorbar(im, ax=list(axes[0]), label="mean accuracy over languages")
        fig.suptitle("%s / %s: mean accuracy by layer window x parameters (baseline %.3f)"
                     % (model, task, base_mean), fontsize=10)
        provenance(fig, prov, y=-0.06)  # below the tick labels (the figure is cropped tight)
        path = os.path.join(out, "grid_%s.png" % tag)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="results file written by moe-sweep (routing or merge) and "
                    "analyze")
    ap.add_argument("--out", required=True, help="directory for the PNGs")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    written, notes = [], []
    with h5py.File(a.results, "r") as f:
        if "analysis" not in f:
            sys.exit("figures.py: %s has no /analysis: run `moe-sweep analyze %s` first"
                     % (a.results, a.results))
        for model in f["analysis"]:
            for corpus in f["analysis"][model]:
                corpus_figures(f, model, corpus, a.out, written, notes)
            if "experts" in f and model in f["experts"]:
                expert_figure(f, model, a.out, written, notes)
        intervention_figures(f, a.out, written, notes)
    for w in written:
        print(w)
    for n in notes:
        print("note: " + n)


if __name__ == "__main__":
    main()
