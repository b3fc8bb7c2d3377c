#pragma once
// How the steps of an upstream Exchange (exchange.h) end, whichever wire carries it (http1_wire.h,
// h2_stream_wire.h).

#include <cstdint>

namespace mg::upstream {

// kTlsFailed: the TCP connect worked, the TLS handshake or the check of the backend's certificate did not.
enum class ConnectResultKind : uint8_t { kConnected, kNoEndpoint, kFailed, kTimedOut, kTlsFailed };
enum class HeadResult : uint8_t { kOk, kTimeout, kClosed, kMalformed };
enum class DiscardResult : uint8_t { kDone, kTimeout, kClosed, kMalformed };
// kData: a piece of the body; kDone: the body ended (its trailers in Exchange::trailers()); kWait: only
// from take_body, the next piece needs a read.
enum class BodyRead : uint8_t { kData, kDone, kTimeout, kClosed, kMalformed, kWait };

}  // namespace mg::upstream
