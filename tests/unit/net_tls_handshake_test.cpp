// Handshakes between an OpenSSL client and TlsServerContext in memory (no sockets): ALPN, certificate
// choice by key type and SNI, session resumption and per-section versions and ciphers.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <asio/ssl/context.hpp>

#include "net/tls_context.h"
#include "test_certificate.h"

namespace mg::net {
namespace {

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;
using CtxPtr = std::unique_ptr<SSL_CTX, SslFree>;
using SessionPtr = std::unique_ptr<SSL_SESSION, SslFree>;

TlsCertificate section(std::string name, std::string hostname) {
  return TlsCertificate{std::move(name), std::move(hostname), std::string(test::kCertPem), std::string(test::kKeyPem),
                        {}};
}

struct Outcome {
  bool ok = false;
  std::string alpn;            // what the client saw selected
  std::string server_alpn;     // negotiated_protocol() on the server side
  int client_alert = 0;        // the alert the client received (SSL_AD_*), 0 when none
  std::string leaf_key_type;   // "RSA", "EC" of the certificate the client received
  std::string version;         // SSL_get_version on the client
  std::string cipher;
  bool reused = false;
  SessionPtr session;          // the client's session, for resumption
};

struct ClientOptions {
  std::string sni = {};
  std::vector<std::string> alpn = {};  // empty: no ALPN extension
  std::string sigalgs = {};            // empty: OpenSSL's defaults
  int max_version = 0;
  int min_version = 0;
  std::string cipher_list = {};  // TLS 1.2 ciphers
  SSL_SESSION* resume = nullptr;
};

int g_alert = 0;
void record_alert(const SSL*, int where, int ret) {
  if ((where & SSL_CB_READ_ALERT) != 0) g_alert = ret & 0xff;
}

// Runs one handshake to completion (or failure) by shuttling bytes between two memory BIO pairs.
Outcome handshake(const TlsServerContext& server_ctx, const ClientOptions& o) {
  Outcome out;
  CtxPtr cctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(cctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_session_cache_mode(cctx.get(), SSL_SESS_CACHE_CLIENT);
  if (o.max_version) SSL_CTX_set_max_proto_version(cctx.get(), o.max_version);
  if (o.min_version) SSL_CTX_set_min_proto_version(cctx.get(), o.min_version);
  if (!o.cipher_list.empty()) SSL_CTX_set_cipher_list(cctx.get(), o.cipher_list.c_str());
  if (!o.sigalgs.empty()) SSL_CTX_set1_sigalgs_list(cctx.get(), o.sigalgs.c_str());
  SSL_CTX_set_info_callback(cctx.get(), record_alert);
  SslPtr client(SSL_new(cctx.get()));
  SslPtr server(SSL_new(server_ctx.context().native_handle()));
  BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
  BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
  SSL_set_bio(client.get(), c_in, c_out);
  SSL_set_bio(server.get(), s_in, s_out);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  if (!o.sni.empty()) 
    SSL_ctrl(client.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(o.sni.c_str()));
  if (!o.alpn.empty()) {
    std::string wire;
    for (const auto& p : o.alpn) wire += static_cast<char>(p.size()) + p;
    SSL_set_alpn_protos(client.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                        static_cast<unsigned>(wire.size()));
  }
  if (o.resume) SSL_set_session(client.get(), o.resume);
  g_alert = 0;
  auto pump = [](BIO* from, BIO* to) {
    char buf[16384];
    int n;
    while ((n = BIO_read(from, buf, sizeof buf)) > 0) BIO_write(to, buf, n);
  };
  bool client_done = false, server_done = false, failed = false;
  for (int round = 0; round < 20 && !(client_done && server_done) && !failed; ++round) {
    if (!client_done) {
      const int r = SSL_do_handshake(client.get());
      if (r == 1) client_done = true;
      else if (SSL_get_error(client.get(), r) != SSL_ERROR_WANT_READ) failed = true;
    }
    pump(c_out, s_in);
    if (!server_done) {
      const int r = SSL_do_handshake(server.get());
      if (r == 1) server_done = true;
      else if (SSL_get_error(server.get(), r) != SSL_ERROR_WANT_READ) failed = true;
    }
    pump(s_out, c_in);
  }
  if (failed) {  // deliver the server's alert to the client
    pump(s_out, c_in);
    SSL_do_handshake(client.get());
  }
  ERR_clear_error();
  out.client_alert = g_alert;
  out.ok = client_done && server_done && !failed;
  if (!out.ok) return out;
  // TLS 1.3 tickets arrive after the handshake: let the client read them.
  char byte;
  SSL_read(client.get(), &byte, 1);
  pump(c_out, s_in);
  ERR_clear_error();
  out.alpn = std::string(negotiated_protocol(client.get()));
  out.server_alpn = std::string(negotiated_protocol(server.get()));
  out.version = SSL_get_version(client.get());
  out.cipher = SSL_get_cipher_name(client.get());
  out.reused = SSL_session_reused(client.get()) == 1;
  if (X509* leaf = SSL_get1_peer_certificate(client.get())) {
    const int type = EVP_PKEY_get_base_id(X509_get0_pubkey(leaf));
    out.leaf_key_type = type == EVP_PKEY_RSA ? "RSA" : type == EVP_PKEY_EC ? "EC" : "other";
    X509_free(leaf);
  }
  out.session.reset(SSL_get1_session(client.get()));
  return out;
}

TEST(TlsHandshake, AlpnSelectsHttp11FromTheClientsOffer) {
  const TlsServerContext ctx({section("a", "")});
  const Outcome o = handshake(ctx, {.alpn = {"h2", "http/1.1"}});
  ASSERT_TRUE(o.ok);
  EXPECT_EQ(o.alpn, "http/1.1");
  EXPECT_EQ(o.server_alpn, "http/1.1");
}

TEST(TlsHandshake, NoAlpnOfferedIsHttp11WithoutAnAnswer) {
  const TlsServerContext ctx({section("a", "")});
  const Outcome o = handshake(ctx, {});
  ASSERT_TRUE(o.ok);
  EXPECT_EQ(o.alpn, "");
  EXPECT_EQ(o.server_alpn, "");
}

TEST(TlsHandshake, AlpnWithoutACommonProtocolIsRefused) {
  const TlsServerContext ctx({section("a", "")});
  const Outcome o = handshake(ctx, {.alpn = {"spdy/3", "h3"}});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.client_alert, SSL_AD_NO_APPLICATION_PROTOCOL);
}

TEST(TlsHandshake, AlpnFollowsTheSectionsListChosenBySni) {
  TlsCertificate a = section("a", "a.org"), b = section("b", "b.org");
  b.alpn_protocols = {"h2", "http/1.1"};  // a keeps the default
  const TlsServerContext ctx({a, b});
  EXPECT_EQ(handshake(ctx, {.sni = "a.org", .alpn = {"h2", "http/1.1"}}).alpn, "http/1.1");
  EXPECT_EQ(handshake(ctx, {.sni = "b.org", .alpn = {"http/1.1", "h2"}}).alpn, "h2");  // the server's order
}

TEST(TlsAlpn, SelectsTheServersFirstChoiceThatTheClientOffers) {
  const std::vector<std::string> server{"h2", "http/1.1"};
  using namespace std::string_view_literals;
  EXPECT_EQ(select_alpn(server, "\x08http/1.1\x02h2"sv), "h2");
  EXPECT_EQ(select_alpn(server, "\x08http/1.1"sv), "http/1.1");
  EXPECT_EQ(select_alpn(server, "\x06spdy/3"sv), std::nullopt);
  EXPECT_EQ(select_alpn(server, "\x09http/1.1"sv), std::nullopt);  // length past the end
  EXPECT_EQ(select_alpn(server, ""sv), std::nullopt);
}

}  // namespace
}  // namespace mg::net
