// Process-wide heap settings for the forward pass's activation buffers.
//
// A prefill allocates and frees large, short-lived buffers in every MoE layer (e.g. 4096 token
// rows x 8 experts x 2048 floats = 256 MiB for the expanded expert rows). glibc serves every
// allocation above its mmap threshold (at most 32 MiB) with a fresh mapping and unmaps it on
// free, so each forward pass page-faults and zeroes all of them again: measured on the
// OLMoE-shaped runtime bench, 1.47 M minor faults and 4.2 s of kernel time in a 40-50 s run,
// against 0.31 M and 1.1 s with the setting below. keep_freed_heap_memory() makes the main heap
// serve large allocations too (no per-allocation mappings) and keep what is freed for reuse, at
// the price of the process keeping its peak heap size until it exits (the steady state of a
// sweep worker or an engine anyway). Threads other than the main one still map what does not
// fit their arena. Explicit MALLOC_MMAP_MAX_ / MALLOC_TRIM_THRESHOLD_ settings in the
// environment win: then nothing is changed.
// Call once at process start (the CLI's main, benchmarks), before threads allocate.
#pragma once

namespace moe {

// Returns true if the settings were applied (glibc, no explicit environment settings).
bool keep_freed_heap_memory();

}  // namespace moe
