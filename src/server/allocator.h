#pragma once
// The gateway's allocator as a worker sees it: after the idle sessions it parked have ended, their
// memory goes back to the system. With jemalloc (the default build, CMake option MG_JEMALLOC) the
// worker's thread cache is flushed and the dirty pages of every arena are purged; with glibc's malloc
// (the sanitizer build) the heap is trimmed.

namespace mg::server {

// Call on a worker thread (it flushes that thread's cache).
void release_free_memory();

// "jemalloc" or "glibc", for the startup log.
const char* allocator_name();

}  // namespace mg::server
