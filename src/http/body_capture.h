#pragma once
// Where a relayed body's bytes also go, up to a limit: the request body kept for mirror copies and
// retries, or a response kept for comparison. Past the limit nothing is kept (never a truncated body).

#include <cstddef>
#include <string>
#include <string_view>

namespace mg::http {

struct BodyCapture {
  std::string* data = nullptr;
  size_t limit = 0;
  bool overflowed = false;
  void add(std::string_view piece) {
    if (!data || overflowed) return;
    if (data->size() + piece.size() > limit) {
      overflowed = true;
      data->clear();
      return;
    }
    data->append(piece);
  }
};

}  // namespace mg::http
