#include "common/version.h"

#ifndef MG_VERSION
#define MG_VERSION "unknown"
#endif
#ifndef MG_COMMIT
#define MG_COMMIT "unknown"
#endif

namespace mg {

std::string_view version() { return MG_VERSION; }
std::string_view build_commit() { return MG_COMMIT; }

}  // namespace mg
