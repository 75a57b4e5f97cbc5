#include "runtime/core/heap.h"

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace moe {

bool keep_freed_heap_memory() {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_MMAP_MAX_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return false;
  // Every allocation from the heap (brk; glibc still maps when the heap cannot grow), and freed
  // memory stays with the process instead of going back at each free.
  const bool ok = mallopt(M_MMAP_MAX, 0) == 1;
  return mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 && ok;  // glibc takes an int: 1 GiB
#else
  return false;
#endif
}

}  // namespace moe
