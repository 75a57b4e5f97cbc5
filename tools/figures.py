#!/usr/bin/env python3
"""Draws the routing studies' figures from a moe-sweep results file.

Usage: tools/figures.py RESULTS.h5 --out DIR

Reads /analysis/{model}/{corpus} and /experts/{model}/... (written by `moe-sweep analyze`, see
results/SCHEMA.md) and /routing/... (statistics), and writes one PNG per figure and (model,
corpus):
  divergence_{model}_{corpus}.png   divergence from the reference per layer, one line per
                                    language, coloured by accuracy when the file has accuracies
  entropy_{model}_{corpus}.png      mean per-token routing entropy per layer (ln E dashed)
  consistency_{model}_{corpus}.png  token routing consistency per layer
  similarity_{model}_{corpus}.png   cross-language similarity (1 - JSD), mean over middle layers
                                    (colour scale from the smallest value to 1)
  delta_{model}_{corpus}.png        distribution of Delta (frequency difference) of the
                                    language/task expert rules, with tau
  experts_{model}.png               experts selected per layer by each stored rule
Prints the paths it wrote. Runs with Debian's python3 + python3-matplotlib + python3-h5py.
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


def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return str(v)


def strings(ds):
    return [text(x) for x in ds[()]]


def safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def middle_span(ax, g):
    a, b = int(g.attrs["middle_first"]), int(g.attrs["middle_last"])
    ax.axvspan(a - 0.5, b + 0.5, color="0.9", zorder=0, label="middle layers")


def save(fig, out, name, written):
    path = os.path.join(out, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)


def layer_lines(g, key, ylabel, title, out, name, written, colour_by_accuracy=False,
                skip=(), hline=None):
    langs = strings(g["languages"])
    data = np.asarray(g[key][()], dtype=float)
    acc = np.asarray(g["accuracy"][()], dtype=float)
    L = data.shape[1]
    x = np.arange(L)
    fig, ax = plt.subplots(figsize=(7, 4))
    middle_span(ax, g)
    have_acc = colour_by_accuracy and np.isfinite(acc).any()
    if have_acc:
        lo, hi = np.nanmin(acc), np.nanmax(acc)
        norm = matplotlib.colors.Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1e-9)
        cmap = plt.get_cmap("viridis")
    for i, lang in enumerate(langs):
        if lang in skip or not np.isfinite(data[i]).any():
            continue
        if have_acc and np.isfinite(acc[i]):
            ax.plot(x, data[i], color=cmap(norm(acc[i])), marker="o", ms=3, label=lang)
        else:
            ax.plot(x, data[i], marker="o", ms=3, label=lang,
                    linestyle="--" if have_acc else "-")
    if hline is not None:
        ax.axhline(hline[0], color="k", linestyle=":", linewidth=1, label=hline[1])
    if have_acc:
        sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
        sm.set_array([])
        fig.colorbar(sm, ax=ax, label="accuracy")
    ax.set_xlabel("MoE layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    save(fig, out, name, written)


def corpus_figures(f, model, corpus, out, written):
    g = f["analysis"][model][corpus]
    tag = "%s_%s" % (safe(model), safe(corpus))
    ref = text(g.attrs["reference"])
    layer_lines(g, "divergence", "entropy-normalised JSD from '%s'" % ref,
                "%s / %s: divergence from %s" % (model, corpus, ref), out,
                "divergence_%s.png" % tag, written, colour_by_accuracy=True, skip=(ref,))
    num_experts = None
    if "routing" in f and model in f["routing"] and corpus in f["routing"][model]:
        first = next(iter(f["routing"][model][corpus].values()))
        num_experts = int(first.attrs["num_experts"])
    layer_lines(g, "entropy", "mean per-token entropy (nats)",
                "%s / %s: routing entropy" % (model, corpus), out, "entropy_%s.png" % tag,
                written, hline=(math.log(num_experts), "ln E") if num_experts else None)
    layer_lines(g, "consistency", "mean Jaccard of token pairs",
                "%s / %s: token routing consistency" % (model, corpus), out,
                "consistency_%s.png" % tag, written)

    langs = strings(g["languages"])
    sim = np.asarray(g["similarity"][()], dtype=float)
    a, b = int(g.attrs["middle_first"]), int(g.attrs["middle_last"])
    m = sim[a:b + 1].mean(axis=0)
    fig, ax = plt.subplots(figsize=(1.2 + 0.5 * len(langs), 1.0 + 0.5 * len(langs)))
    im = ax.imshow(m, cmap="magma", vmin=m.min(), vmax=1.0)
    if len(langs) <= 12:
        for a_ in range(len(langs)):
            for b_ in range(len(langs)):
                ax.text(b_, a_, "%.3f" % m[a_, b_], ha="center", va="center", fontsize=6,
                        color="w" if m[a_, b_] < (m.min() + 1.0) / 2 else "k")
    ax.set_xticks(range(len(langs)))
    ax.set_xticklabels(langs, rotation=60, fontsize=8)
    ax.set_yticks(range(len(langs)))
    ax.set_yticklabels(langs, fontsize=8)
    fig.colorbar(im, ax=ax, label="1 - JSD")
    ax.set_title("%s / %s: similarity, layers %d-%d" % (model, corpus, a, b), fontsize=9)
    save(fig, out, "similarity_%s.png" % tag, written)

    # Delta distributions of this corpus' delta rules.
    sets = []
    if "experts" in f and model in f["experts"]:
        for name, s in f["experts"][model].items():
            if text(s.attrs["rule"]) == "delta_threshold" and "scores" in s and \
                    text(s.attrs["corpus"]) == corpus:
                sets.append((name, s))
    if sets:
        fig, ax = plt.subplots(figsize=(7, 4))
        tau = None
        for name, s in sets:
            d = np.asarray(s["scores"][()], dtype=float).ravel()
            ax.hist(d, bins=40, histtype="step", label=text(s.attrs["target"]))
            tau = float(text(s.attrs["param_tau"]))
        ax.axvline(tau, color="k", linestyle=":", label="tau = %g" % tau)
        ax.set_yscale("log")
        ax.set_xlabel("Delta (activation frequency difference)")
        ax.set_ylabel("experts x layers")
        ax.set_title("%s / %s: Delta distribution" % (model, corpus))
        ax.legend(fontsize=7)
        save(fig, out, "delta_%s.png" % tag, written)


def expert_figure(f, model, out, written):
    sets = f["experts"][model]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    drawn = 0
    colours = plt.get_cmap("tab20")
    for name, s in sets.items():
        if "per_layer_count" not in s:
            continue
        counts = np.asarray(s["per_layer_count"][()], dtype=float)
        if counts.sum() == 0:
            continue
        ax.plot(np.arange(len(counts)), counts, marker="o", ms=3, label=name,
                color=colours(drawn % 20), linestyle=("-", "--", ":")[(drawn // 20) % 3])
        drawn += 1
    if drawn == 0:
        ax.text(0.5, 0.5, "no expert selected by any rule", ha="center", transform=ax.transAxes)
    ax.set_xlabel("MoE layer")
    ax.set_ylabel("experts selected")
    ax.set_title("%s: experts selected per layer" % model)
    if drawn:
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save(fig, out, "experts_%s.png" % safe(model), written)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", help="results file written by moe-sweep routing + analyze")
    p.add_argument("--out", required=True, help="directory for the PNGs")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    written = []
    with h5py.File(a.results, "r") as f:
        if "analysis" not in f:
            sys.exit("figures.py: %s has no /analysis: run `moe-sweep analyze %s` first"
                     % (a.results, a.results))
        for model in f["analysis"]:
            for corpus in f["analysis"][model]:
                corpus_figures(f, model, corpus, a.out, written)
            if "experts" in f and model in f["experts"]:
                expert_figure(f, model, a.out, written)
    for w in written:
        print(w)


if __name__ == "__main__":
    main()
