#!/usr/bin/env python3
"""Independent check of moe-sweep's routing statistics against a routing trace.

Usage: check_routing_stats.py STATS.h5 GROUP TRACE.h5

GROUP (e.g. /routing/tiny/flores/de) was written by `moe-sweep routing` over the same prompts,
in the same order, that `moe-sweep trace` recorded in TRACE.h5 (router_logits, selected_experts
and routing_weights per prompt and MoE layer), with every prompt token counted (tokens: all).
This script recomputes every statistic of sweeps/METHODS.md A from the trace with numpy, in
float64, from the formulas (not from moe-sweep's code), including the consistency token pairs,
which it draws with its own MT19937-64 and Lemire implementations from the seed recorded in the
group, and compares. Tolerances (the C++ side computes softmax in float32 and stores float32):
  importance (each variant), entropy, H(q)    |diff| <= 2e-5
  frequency a_i / L_i, consistency           |diff| <= 1e-6 (exact ratios stored in float32)
  activation_tokens, total_tokens, counts    exact
Prints one line per check and exits 1 on the first mismatch.
Runs with Debian's /usr/bin/python3 + python3-numpy + python3-h5py.
"""
import sys

import h5py
import numpy as np

MASK = (1 << 64) - 1


class MT19937_64:
    """The 64-bit Mersenne Twister (Matsumoto and Nishimura), as std::mt19937_64."""

    N, M = 312, 156
    A = 0xB5026F5AA96619E9
    UPPER, LOWER = 0xFFFFFFFF80000000, 0x7FFFFFFF

    def __init__(self, seed):
        self.mt = [0] * self.N
        self.mt[0] = seed & MASK
        for i in range(1, self.N):
            prev = self.mt[i - 1]
            self.mt[i] = (6364136223846793005 * (prev ^ (prev >> 62)) + i) & MASK
        self.i = self.N

    def next(self):
        if self.i >= self.N:
            mt = self.mt
            for k in range(self.N):
                x = (mt[k] & self.UPPER) | (mt[(k + 1) % self.N] & self.LOWER)
                xa = x >> 1
                if x & 1:
                    xa ^= self.A
                mt[k] = mt[(k + self.M) % self.N] ^ xa
            self.i = 0
        x = self.mt[self.i]
        self.i += 1
        x ^= (x >> 29) & 0x5555555555555555
        x ^= (x << 17) & 0x71D67FFFEDA60000
        x ^= (x << 37) & 0xFFF7EEE000000000
        x ^= x >> 43
        return x & MASK


def below(rng, n):
    """Uniform integer in [0, n): Lemire's multiply-and-reject."""
    m = rng.next() * n
    low = m & MASK
    if low < n:
        threshold = ((1 << 64) - n) % n
        while low < threshold:
            m = rng.next() * n
            low = m & MASK
    return m >> 64


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def token_pairs(n, count, seed, stream):
    """count pairs (s, u), s < u < n: distinct when n(n-1)/2 >= count, else with replacement."""
    if n < 2 or count <= 0:
        return []
    rng = MT19937_64(splitmix64(seed ^ splitmix64(stream)))
    M = n * (n - 1) // 2

    def unrank(c):
        import math
        u = (1 + math.isqrt(1 + 8 * c)) // 2
        while u > 1 and u * (u - 1) // 2 > c:
            u -= 1
        while (u + 1) * u // 2 <= c:
            u += 1
        return c - u * (u - 1) // 2, u

    out = []
    if M >= count:
        seen = set()
        while len(out) < count:
            c = below(rng, M)
            if c not in seen:
                seen.add(c)
                out.append(unrank(c))
    else:
        out = [unrank(below(rng, M)) for _ in range(count)]
    return out


def entropy(q):
    return float(-(q * np.log(q + 1e-10)).sum())


def reference_stats(trace, layers, variant, pairs, seed):
    """Per-sequence statistics of every prompt of the trace: dict of arrays."""
    prompts = sorted(k for k in trace if k.startswith("prompt_"))
    N, L = len(prompts), len(layers)
    E = int(trace.attrs["num_experts"])
    k = int(trace.attrs["top_k"])
    imp = np.zeros((N, L, E))
    freq = np.zeros((N, L, E))
    ent = np.zeros((N, L))
    hq = np.zeros((N, L))
    con = np.full((N, L), np.nan)
    counts = np.zeros((L, E), dtype=np.int64)
    tokens = np.zeros(N, dtype=np.int64)
    for i, name in enumerate(prompts):
        p = trace[name]
        for li, layer in enumerate(layers):
            g = p["layer_%02d" % layer]
            z = np.asarray(g["router_logits"][()], dtype=np.float64)       # [T, E]
            sel = np.asarray(g["selected_experts"][()], dtype=np.int64)    # [T, k]
            w = np.asarray(g["routing_weights"][()], dtype=np.float64)     # [T, k]
            T = z.shape[0]
            tokens[i] = T
            pz = np.exp(z - z.max(axis=1, keepdims=True))
            pz /= pz.sum(axis=1, keepdims=True)
            ent[i, li] = np.mean([entropy(row) for row in pz])
            if variant == "softmax":
                q = pz
            elif variant == "topk_renorm":
                kth = np.sort(pz, axis=1)[:, -k][:, None]
                kept = np.where(pz >= kth, pz, 0.0)
                q = kept / (kept.sum(axis=1, keepdims=True) + 1e-20)
            elif variant == "router_weights":
                q = np.zeros_like(pz)
                for t in range(T):
                    q[t, sel[t]] = w[t] / w[t].sum()
            else:
                raise SystemExit("unknown importance variant %r" % variant)
            imp[i, li] = q.mean(axis=0)
            hq[i, li] = entropy(imp[i, li])
            hits = np.zeros((T, E))
            for t in range(T):
                hits[t, sel[t]] = 1.0
            freq[i, li] = hits.mean(axis=0)
            counts[li] += hits.sum(axis=0).astype(np.int64)
            sets = [set(map(int, s)) for s in sel]
            ps = token_pairs(T, pairs, seed, i)
            if ps:
                con[i, li] = np.mean([len(sets[a] & sets[b]) / len(sets[a] | sets[b])
                                      for a, b in ps])
    return dict(importance=imp, frequency=freq, entropy=ent, importance_entropy=hq,
                consistency=con, activation_tokens=counts,
                total_tokens=np.full(L, tokens.sum(), dtype=np.int64), counted_tokens=tokens)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    stats_path, group, trace_path = sys.argv[1:]
    with h5py.File(stats_path, "r") as sf, h5py.File(trace_path, "r") as tf:
        g = sf[group]
        variant = g.attrs["importance"]
        variant = variant.decode() if isinstance(variant, bytes) else str(variant)
        tokens = g.attrs["tokens"]
        tokens = tokens.decode() if isinstance(tokens, bytes) else str(tokens)
        if tokens != "all":
            raise SystemExit("%s: tokens = %s; this check needs tokens: all" % (group, tokens))
        layers = [int(x) for x in g["layers"][()]]
        seed = int(g.attrs["seed"])
        pairs = int(g.attrs["consistency_pairs"])
        ref = reference_stats(tf, layers, variant, pairs, seed)
        checks = [("importance", 2e-5), ("entropy", 2e-5), ("importance_entropy", 2e-5),
                  ("frequency", 1e-6), ("consistency", 1e-6), ("activation_tokens", 0),
                  ("total_tokens", 0), ("counted_tokens", 0)]
        for name, tol in checks:
            got = np.asarray(g[name][()], dtype=np.float64)
            want = np.asarray(ref[name], dtype=np.float64)
            if got.shape != want.shape:
                print("FAIL %s %s: shape %s, expected %s" % (group, name, got.shape, want.shape))
                sys.exit(1)
            both_nan = np.isnan(got) & np.isnan(want)
            diff = np.where(both_nan, 0.0, np.abs(got - want))
            worst = float(np.nanmax(diff)) if diff.size else 0.0
            if np.isnan(diff).any() or worst > tol:
                idx = np.unravel_index(np.nanargmax(np.where(np.isnan(diff), np.inf, diff)),
                                       diff.shape)
                print("FAIL %s %s (%s): max |diff| %.3g > %g at %s: got %r, expected %r"
                      % (group, name, variant, worst, tol, idx, got[idx], want[idx]))
                sys.exit(1)
            print("ok   %s %s (%s): max |diff| %.3g (tolerance %g)"
                  % (group, name, variant, worst, tol))


if __name__ == "__main__":
    main()
