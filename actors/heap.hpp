#pragma once

#include <cstddef>

namespace fenix {

/// Commits `bytes` of address space in the calling thread's malloc arena
/// ahead of use, then gives the pages back.
///
/// Why: glibc gives every thread but the first its own arena, and such an
/// arena grows by `mprotect`-ing one more page range of its reserved heap
/// each time its top runs out (the main arena's `M_TOP_PAD` does not apply
/// there). A thread that allocates a few KB per connection then pays about
/// two `mprotect` calls per connection, each splitting and merging VMAs under
/// the process's mmap lock, which also stalls page faults on every other
/// thread (measured in the join benchmark: ~6 % of the server's CPU).
/// Growing the arena once and freeing it again leaves the protection
/// extended (a trim only `madvise`s the pages away), so later growth up to
/// `bytes` costs no system call. RSS is unchanged afterwards.
void precommit_thread_heap(std::size_t bytes) noexcept;

/// What fenix threads (CAF workers, I/O threads) pre-commit: most of one
/// 64 MiB glibc heap.
inline constexpr std::size_t default_heap_precommit = std::size_t{48} << 20;

} // namespace fenix
