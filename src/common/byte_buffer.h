#pragma once
// A growable byte buffer with a read cursor: sockets append at the back, parsers consume from the
// front. Compacts lazily so views into unread bytes stay valid until the next prepare().

#include <cstring>
#include <string_view>
#include <vector>

namespace mg {

class ByteBuffer {
 public:
  explicit ByteBuffer(size_t initial = 16 * 1024) : storage_(initial) {}

  std::string_view readable() const { return {storage_.data() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }

  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Returns at least `min` writable bytes at the back. Invalidates views into readable().
  char* prepare(size_t min, size_t& available) {
    if (storage_.size() - end_ < min) {
      if (begin_ > 0) {  // slide unread bytes to the front first
        std::memmove(storage_.data(), storage_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
      }
      if (storage_.size() - end_ < min) storage_.resize(std::max(storage_.size() * 2, end_ + min));
    }
    available = storage_.size() - end_;
    return storage_.data() + end_;
  }
  void commit(size_t n) { end_ += n; }

  void append(std::string_view s) {
    size_t available = 0;
    std::memcpy(prepare(s.size(), available), s.data(), s.size());
    commit(s.size());
  }
  void clear() { begin_ = end_ = 0; }
  size_t capacity() const { return storage_.size(); }
  // Frees the storage of an empty buffer (an idle connection's); the next prepare() allocates again.
  void release() {
    if (!empty()) return;
    std::vector<char>().swap(storage_);
    begin_ = end_ = 0;
  }
  // Gives memory back after an unusually large message, so idle connections stay small.
  void shrink_if_idle(size_t keep) {
    if (empty() && storage_.size() > keep) {
      storage_.resize(keep);
      storage_.shrink_to_fit();
    }
  }

 private:
  std::vector<char> storage_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace mg
