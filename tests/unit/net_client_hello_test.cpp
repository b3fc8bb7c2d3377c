// The ClientHello inspector of TLS passthrough (net/client_hello.h): real ClientHellos made by an OpenSSL
// client in memory, whole and a byte at a time, with and without SNI and ALPN, in TLS 1.2 and 1.3; bytes
// that are not TLS, and a first flight that never completes, are rejected with a reason.

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "net/client_hello.h"

namespace mg::net {
namespace {

struct HelloOptions {
  std::string server_name = {};
  std::string alpn_wire = {};  // ALPN's wire form: length-prefixed names
  int max_version = TLS1_3_VERSION;
};

// The first flight an OpenSSL client sends with these options.
std::string client_hello(const HelloOptions& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(ctx, o.max_version);
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  // SSL_set_tlsext_host_name is a macro with a C cast; its function form:
  if (!o.server_name.empty())
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(o.server_name.c_str()));
  if (!o.alpn_wire.empty())
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(o.alpn_wire.data()),
                        static_cast<unsigned>(o.alpn_wire.size()));
  EXPECT_EQ(SSL_connect(ssl), -1);  // waits for the server's answer
  std::string bytes(static_cast<size_t>(BIO_pending(out)), '\0');
  BIO_read(out, bytes.data(), static_cast<int>(bytes.size()));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return bytes;
}

TEST(ClientHelloInspector, ReadsTheServerNameAndAlpnOfAWholeClientHello) {
  const std::string hello = client_hello({"backend.example.com", std::string("\x02h2\x08http/1.1", 12)});
  ASSERT_GT(hello.size(), 100u);
  ClientHelloInspector inspector;
  EXPECT_EQ(inspector.feed(hello), ClientHelloInspector::Result::kDone) << inspector.error();
  EXPECT_EQ(inspector.server_name(), "backend.example.com");
  EXPECT_EQ(inspector.alpn(), (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_EQ(inspector.bytes(), hello);  // kept unchanged, for the backend
}

TEST(ClientHelloInspector, AClientHelloFedAByteAtATimeIsReadAtItsLastByte) {
  const std::string hello = client_hello({"a.example", "", TLS1_2_VERSION});
  ClientHelloInspector inspector;
  for (size_t i = 0; i + 1 < hello.size(); ++i)
    ASSERT_EQ(inspector.feed(hello.substr(i, 1)), ClientHelloInspector::Result::kNeedMore) << i;
  EXPECT_EQ(inspector.feed(hello.substr(hello.size() - 1)), ClientHelloInspector::Result::kDone);
  EXPECT_EQ(inspector.server_name(), "a.example");
  EXPECT_TRUE(inspector.alpn().empty());
  EXPECT_EQ(inspector.bytes(), hello);
}

TEST(ClientHelloInspector, NoServerNameIsAnEmptyOne) {
  ClientHelloInspector inspector;
  EXPECT_EQ(inspector.feed(client_hello({})), ClientHelloInspector::Result::kDone);
  EXPECT_EQ(inspector.server_name(), "");
}

TEST(ClientHelloInspector, BytesAfterTheAnswerAreNeitherParsedNorKept) {
  const std::string hello = client_hello({"a.example"});
  ClientHelloInspector inspector;
  ASSERT_EQ(inspector.feed(hello), ClientHelloInspector::Result::kDone);
  EXPECT_EQ(inspector.feed("more"), ClientHelloInspector::Result::kDone);
  EXPECT_EQ(inspector.bytes(), hello);
}

TEST(ClientHelloInspector, PlainHttpIsRejected) {
  ClientHelloInspector inspector;
  EXPECT_EQ(inspector.feed("GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"), ClientHelloInspector::Result::kRejected);
  EXPECT_NE(inspector.error().find("not a TLS ClientHello"), std::string::npos) << inspector.error();
}

TEST(ClientHelloInspector, AHandshakeThatNeverEndsIsRejectedAtTheLimit) {
  // Handshake records that announce a ClientHello of 65,792 bytes (OpenSSL would wait for up to 128 KiB)
  // and carry zeros.
  std::string first("\x16\x03\x01\x40\x00\x01\x01\x01\x00", 9);
  first.resize(5 + 0x4000, '\0');
  ClientHelloInspector inspector;
  ClientHelloInspector::Result r = inspector.feed(first);
  std::string more("\x16\x03\x01\x40\x00", 5);
  more.resize(5 + 0x4000, '\0');
  for (int i = 0; i < 8 && r == ClientHelloInspector::Result::kNeedMore; ++i) r = inspector.feed(more);
  EXPECT_EQ(r, ClientHelloInspector::Result::kRejected);
  EXPECT_NE(inspector.error().find("no complete ClientHello within 65536 bytes"), std::string::npos)
      << inspector.error();
  EXPECT_LE(inspector.bytes().size(), ClientHelloInspector::kMaxBytes);
}

TEST(ClientHelloInspector, AMalformedServerNameExtensionIsNoName) {
  std::string hello = client_hello({"abc.example"});
  // The host_name's length (2 bytes before "abc.example") made to run past the extension.
  const size_t at = hello.find("abc.example");
  ASSERT_NE(at, std::string::npos);
  hello[at - 1] = static_cast<char>(0x7f);
  ClientHelloInspector inspector;
  const ClientHelloInspector::Result r = inspector.feed(hello);
  // OpenSSL itself may refuse the extension; either way no name is made up.
  EXPECT_NE(r, ClientHelloInspector::Result::kNeedMore);
  EXPECT_EQ(inspector.server_name(), "");
}

}  // namespace
}  // namespace mg::net
