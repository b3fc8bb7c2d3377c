#include "server/allocator.h"

#ifdef MG_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#elif !defined(__SANITIZE_ADDRESS__)
#include <malloc.h>
#endif

namespace mg::server {

#ifdef MG_WITH_JEMALLOC
#define MG_STRINGIFY_(x) #x
#define MG_STRINGIFY(x) MG_STRINGIFY_(x)

void release_free_memory() {
  // Objects freed on this thread sit in its cache until it fills; give them back to their pages first,
  // so that the pages that emptied can go.
  mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
  mallctl("arena." MG_STRINGIFY(MALLCTL_ARENAS_ALL) ".purge", nullptr, nullptr, nullptr, 0);
}

const char* allocator_name() { return "jemalloc"; }
#elif defined(__SANITIZE_ADDRESS__)
// The sanitizer's allocator serves malloc; glibc's arenas it leaves half set up, and malloc_trim on them
// crashes from a thread (google/sanitizers#1721). Its own purge is the equivalent.
extern "C" void __sanitizer_purge_allocator();
void release_free_memory() { __sanitizer_purge_allocator(); }

const char* allocator_name() { return "sanitizer"; }
#else
void release_free_memory() { ::malloc_trim(0); }

const char* allocator_name() { return "glibc"; }
#endif

}  // namespace mg::server
