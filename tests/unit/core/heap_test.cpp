// keep_freed_heap_memory: large allocations come from the heap, not from fresh mappings, and
// what is freed is kept for the next allocation.
#include <gtest/gtest.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdlib>
#include <cstring>

#include "runtime/core/heap.h"

namespace moe {
namespace {

// Sanitizers bring their own allocator (mallopt and mallinfo2 do not describe it).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MOE_OWN_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MOE_OWN_ALLOCATOR 1
#endif
#endif

#if defined(__GLIBC__) && !defined(MOE_OWN_ALLOCATOR)
TEST(Heap, LargeAllocationsAreServedAndKeptByTheHeap) {
  if (std::getenv("MALLOC_MMAP_MAX_") || std::getenv("MALLOC_TRIM_THRESHOLD_"))
    GTEST_SKIP() << "the environment sets glibc's malloc options explicitly";
  ASSERT_TRUE(keep_freed_heap_memory());
  constexpr size_t kBytes = size_t(96) << 20;  // above glibc's largest mmap threshold (32 MiB)
  const size_t mapped_before = mallinfo2().hblkhd;
  char* p = static_cast<char*>(std::malloc(kBytes));
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, kBytes);
  EXPECT_EQ(mallinfo2().hblkhd, mapped_before) << "a 96 MiB block was mapped on its own";
  std::free(p);
  // Freed, it stays in the heap: the next block of that size reuses it.
  const size_t heap_after_free = mallinfo2().arena;
  EXPECT_GE(heap_after_free, kBytes);
  char* q = static_cast<char*>(std::malloc(kBytes));
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(mallinfo2().arena, heap_after_free);  // no growth: the freed memory was reused
  std::free(q);
}
#endif

}  // namespace
}  // namespace moe
