// libFuzzer target for the ClientHello inspector of TLS passthrough (net/client_hello.h; OpenSSL, the
// system library, does the parsing): never crash; the bytes kept are a prefix of the input, never more
// than kMaxBytes; the same input fed whole and fed in pieces (sizes from the input's first byte) gives
// the same answer and the same server name, so a split record never changes where a connection goes.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/client_hello.h"

namespace {

using mg::net::ClientHelloInspector;

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = 1 + data[0] % 64;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  ClientHelloInspector whole;
  const ClientHelloInspector::Result a = whole.feed(in);
  ClientHelloInspector split;
  ClientHelloInspector::Result b = ClientHelloInspector::Result::kNeedMore;
  for (size_t at = 0; at < in.size() && b == ClientHelloInspector::Result::kNeedMore; at += piece)
    b = split.feed(in.substr(at, piece));

  for (const ClientHelloInspector* i : {&whole, &split}) {
    check(i->bytes().size() <= ClientHelloInspector::kMaxBytes);
    check(in.substr(0, i->bytes().size()) == i->bytes());
    check(i->result() != ClientHelloInspector::Result::kRejected || !i->error().empty());
  }
  // Fed whole, an input over the limit is refused before parsing; in pieces, parsing may end first.
  if (in.size() <= ClientHelloInspector::kMaxBytes) {
    check(a == b);
    check(whole.server_name() == split.server_name());
    check(whole.alpn() == split.alpn());
  }
  return 0;
}
