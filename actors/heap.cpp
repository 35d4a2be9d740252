#include "actors/heap.hpp"

#include <cstdlib>
#include <vector>

namespace fenix {

void precommit_thread_heap(std::size_t bytes) noexcept {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Sanitizers bring their own allocator (and ASan would quarantine it all).
  static_cast<void>(bytes);
  return;
#else
  // Blocks stay below glibc's mmap threshold (128 KiB by default), so they
  // come from this thread's arena. Freed lowest first, they coalesce into
  // one chunk that merges with the top and is trimmed once.
  constexpr std::size_t block = 32 * 1024;
  try {
    std::vector<void*> blocks;
    blocks.reserve(bytes / block);
    for (std::size_t n = 0; n < bytes; n += block) {
      auto p = std::malloc(block);
      if (!p)
        break;
      blocks.push_back(p);
    }
    for (auto p : blocks)
      std::free(p);
  } catch (...) {
    // an optimisation only
  }
#endif
}

} // namespace fenix
