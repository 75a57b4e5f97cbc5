"""Results: one moe-sweep HDF5 file (a merged sweep's results.h5, a `moe-sweep routing` output,
either after `moe-sweep analyze`) read as the layout in results/SCHEMA.md describes it.

Tables (a group of equal-length 1-D columns: /points, /accuracy, /tasks, /samples/<task>,
/units, /notes, /missing, an expert set's tables/experts, analyze's correlation) become pandas
DataFrames; strings are decoded (columns stored as bytes because they hold NUL characters
included). Layer columns stay as the file holds them, 0-indexed; `layer_base` is 1 where the
sweep's config counts layers from 1 (`layer_indexing: one_based`), and the labels this module
builds (`accuracy()`'s `layers`, `analysis()`'s columns) use the config's indexing.
"""
import h5py
import numpy as np
import pandas as pd


def _text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray) and v.dtype == np.uint8:  # a string stored as bytes (NULs)
        return v.tobytes().decode("utf-8", errors="replace")
    return v


def _column(ds):
    values = ds[()]
    if values.dtype.kind in "OS":
        return [_text(v) for v in values]
    return values


def _is_table(g):
    if not isinstance(g, h5py.Group) or len(g) == 0:
        return False
    lengths = set()
    for child in g.values():
        if not isinstance(child, h5py.Dataset) or child.ndim != 1:
            return False
        lengths.add(child.shape[0])
    return len(lengths) == 1


def _attrs(obj):
    return {k: _text(v) if not isinstance(v, np.ndarray) or v.dtype.kind != "O"
            else [_text(x) for x in v] for k, v in obj.attrs.items()}


class Results:
    """One results file, open for reading; use as a context manager or call close()."""

    def __init__(self, path):
        self.path = str(path)
        self.file = h5py.File(self.path, "r")
        self.attrs = _attrs(self.file)
        self.layer_base = 1 if self.attrs.get("layer_indexing") == "one_based" else 0

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- tables ------------------------------------------------------------------------------

    def tables(self):
        """Paths of the file's top-level tables and of /samples/<task>, with rows or not."""
        out = [k for k in ("points", "accuracy", "tasks", "units", "notes", "missing")
               if k in self.file and isinstance(self.file[k], h5py.Group)]
        if "samples" in self.file:
            out += ["samples/" + t for t in self.file["samples"]]
        return out

    def table(self, path):
        """The table at `path` as a DataFrame (columns in the order of its `columns` attribute;
        a table without rows: an empty DataFrame)."""
        if path not in self.file:
            raise KeyError("%s: no table /%s" % (self.path, path))
        g = self.file[path]
        if len(g) == 0:
            return pd.DataFrame()
        if not _is_table(g):
            raise ValueError("%s: /%s is not a table of equal-length columns" % (self.path, path))
        order = [_text(c) for c in g.attrs.get("columns", [])] or list(g)
        return pd.DataFrame({name: _column(g[name]) for name in order})

    def accuracy(self):
        """/accuracy (one row per point and language) joined to each point's settings from
        /points, with `layers` ("a-b" in the config's indexing, "-" for a baseline)."""
        acc, points = self.table("accuracy"), self.table("points")
        if acc.empty:
            return acc
        keep = ["point"] + [c for c in points.columns if c not in acc.columns]
        out = acc.merge(points[keep], on="point", how="left", validate="many_to_one")
        base = self.layer_base
        out["layers"] = [
            "-" if s < 0 else "%d-%d" % (s + base, e + base)
            for s, e in zip(out["layer_start"], out["layer_end"])]
        return out

    # ---- routing statistics and analysis -----------------------------------------------------

    def routing_groups(self):
        """(model, corpus, language) of every statistics group."""
        out = []
        if "routing" in self.file:
            for m, mg in self.file["routing"].items():
                for c, cg in mg.items():
                    out += [(m, c, lang) for lang in cg]
        return out

    def routing(self, model, corpus, language):
        """One statistics group: its arrays (numpy) by name, and "attrs"."""
        g = self.file["routing/%s/%s/%s" % (model, corpus, language)]
        out = {k: v[()] for k, v in g.items() if isinstance(v, h5py.Dataset)}
        out["attrs"] = _attrs(g)
        return out

    def analysis(self, model, corpus):
        """`moe-sweep analyze`'s results for (model, corpus): the per-language, per-layer arrays
        as DataFrames (rows: languages, columns: MoE layers, labelled by decoder layer in the
        config's indexing), `similarity` as {layer: DataFrame languages x languages}, the
        per-language vectors as Series, `correlation` as a DataFrame, and "attrs"."""
        g = self.file["analysis/%s/%s" % (model, corpus)]
        langs = [_text(x) for x in g["languages"][()]]
        layers = [int(x) + self.layer_base for x in g["layers"][()]]
        out = {"languages": langs, "layers": layers, "attrs": _attrs(g)}
        for name, ds in g.items():
            if name in ("languages", "layers"):
                continue
            if isinstance(ds, h5py.Group):
                out[name] = self.table("analysis/%s/%s/%s" % (model, corpus, name))
            elif name == "similarity":
                sim = ds[()]
                out[name] = {layers[i]: pd.DataFrame(sim[i], index=langs, columns=langs)
                             for i in range(len(layers))}
            elif ds.ndim == 2:
                out[name] = pd.DataFrame(ds[()], index=langs, columns=layers)
            elif ds.ndim == 1 and ds.shape[0] == len(langs):
                out[name] = pd.Series(_column(ds), index=langs, name=name)
            else:
                out[name] = ds[()]
        return out

    # ---- expert sets -------------------------------------------------------------------------

    def expert_sets(self, model):
        """Names of the model's expert sets (the sweep's ids and analyze's rule names)."""
        if "experts" not in self.file or model not in self.file["experts"]:
            return []
        return list(self.file["experts"][model])

    def expert_set(self, model, name):
        """One expert set's (layer, expert, score, ...) rows, with its attributes in .attrs."""
        g = self.file["experts/%s/%s" % (model, name)]
        if "tables" in g and "experts" in g["tables"]:
            df = self.table("experts/%s/%s/tables/experts" % (model, name))
        else:  # analyze's sets: the table's columns sit in the group beside its arrays
            cols = [c for c in ("layer", "expert", "score") if c in g]
            df = pd.DataFrame({c: _column(g[c]) for c in cols})
        df.attrs = _attrs(g)
        return df


def open_results(path):
    """Results(path): use `with open_results(p) as r:`."""
    return Results(path)
