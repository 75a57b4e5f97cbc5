"""Reads moe-sweep's HDF5 results (results/SCHEMA.md) into pandas and numpy.

Importable without building moe-sweep: it needs h5py, numpy and pandas only
(`PYTHONPATH=python python3 -c "import moe_sweep"`).

    import moe_sweep
    with moe_sweep.open_results("out/sweep/results.h5") as r:
        r.attrs["name"], r.tables()              # the sweep's name; the tables in the file
        points = r.table("points")               # one DataFrame per table
        acc = r.accuracy()                       # /accuracy joined to each point's settings
        samples = r.table("samples/mgsm")        # one row per (point, language, sample)
        stats = r.routing("qwen", "flores", "de")    # one statistics group: arrays and attributes
        div = r.analysis("qwen", "flores")["divergence"]  # DataFrame: languages x layers
        experts = r.expert_set("qwen", r.expert_sets("qwen")[0])  # (layer, expert, score)
"""
from .results import Results, open_results

__all__ = ["Results", "open_results"]
