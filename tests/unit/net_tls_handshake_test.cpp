// Handshakes between an OpenSSL client and TlsServerContext in memory (no sockets): ALPN, certificate
// choice by key type and SNI, session resumption and per-section versions and ciphers.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "net/ticket_keys.h"
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
  return TlsCertificate{std::move(name),
                        std::move(hostname),
                        {CertificatePair{std::string(test::kCertPem), std::string(test::kKeyPem)}}};
}

struct Outcome {
  bool ok = false;
  std::string alpn;           // what the client saw selected
  std::string server_alpn;    // negotiated_protocol() on the server side
  int client_alert = 0;       // the alert the client received (SSL_AD_*), 0 when none
  std::string leaf_key_type;  // "RSA", "EC" of the certificate the client received
  std::string leaf_cn;        // and its subject CN
  std::string version;        // SSL_get_version on the client
  std::string cipher;
  bool reused = false;
  int tickets = 0;     // NewSessionTicket messages the client received
  SessionPtr session;  // the client's session, for resumption
};

struct ClientOptions {
  std::string sni = {};
  std::vector<std::string> alpn = {};  // empty: no ALPN extension
  std::string sigalgs = {};            // empty: OpenSSL's defaults
  int max_version = 0;
  int min_version = 0;
  std::string cipher_list = {};  // TLS 1.2 ciphers
  SSL_SESSION* resume = nullptr;
  const CertificatePair* client_certificate = nullptr;
};

CertificatePair make_certificate(bool rsa, const std::vector<std::string>& names);

int g_alert = 0;
void record_alert(const SSL*, int where, int ret) {
  if ((where & SSL_CB_READ_ALERT) != 0) g_alert = ret & 0xff;
}

int g_tickets = 0;
void count_tickets(int write_p, int, int content_type, const void* buf, size_t len, SSL*, void*) {
  if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
      *static_cast<const unsigned char*>(buf) == SSL3_MT_NEWSESSION_TICKET)
    ++g_tickets;
}

// Runs one handshake to completion (or failure) by shuttling bytes between two memory BIO pairs.
Outcome handshake(const TlsServerContext& server_ctx, const ClientOptions& o) {
  Outcome out;
  CtxPtr cctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(cctx.get(), SSL_VERIFY_NONE, nullptr);
  // No client cache: freeing the context would flush it, which marks its sessions not resumable.
  SSL_CTX_set_session_cache_mode(cctx.get(), SSL_SESS_CACHE_OFF);
  if (o.max_version) SSL_CTX_set_max_proto_version(cctx.get(), o.max_version);
  if (o.min_version) SSL_CTX_set_min_proto_version(cctx.get(), o.min_version);
  if (!o.cipher_list.empty()) SSL_CTX_set_cipher_list(cctx.get(), o.cipher_list.c_str());
  if (!o.sigalgs.empty()) SSL_CTX_set1_sigalgs_list(cctx.get(), o.sigalgs.c_str());
  SSL_CTX_set_info_callback(cctx.get(), record_alert);
  SSL_CTX_set_msg_callback(cctx.get(), count_tickets);
  if (o.client_certificate) {
    BIO* c = BIO_new_mem_buf(o.client_certificate->cert_pem.data(),
                             static_cast<int>(o.client_certificate->cert_pem.size()));
    BIO* k = BIO_new_mem_buf(o.client_certificate->key_pem.data(),
                             static_cast<int>(o.client_certificate->key_pem.size()));
    X509* x = PEM_read_bio_X509(c, nullptr, nullptr, nullptr);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(k, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(cctx.get(), x);
    SSL_CTX_use_PrivateKey(cctx.get(), key);
    X509_free(x);
    EVP_PKEY_free(key);
    BIO_free(c);
    BIO_free(k);
  }
  SslPtr client(SSL_new(cctx.get()));
  SslPtr server(SSL_new(server_ctx.context().native_handle()));
  BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
  BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
  SSL_set_bio(client.get(), c_in, c_out);
  SSL_set_bio(server.get(), s_in, s_out);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  if (!o.sni.empty())
    SSL_ctrl(client.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(o.sni.c_str()));
  if (!o.alpn.empty()) {
    std::string wire;
    for (const auto& p : o.alpn) wire += static_cast<char>(p.size()) + p;
    SSL_set_alpn_protos(client.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                        static_cast<unsigned>(wire.size()));
  }
  if (o.resume) SSL_set_session(client.get(), o.resume);
  g_alert = 0;
  g_tickets = 0;
  auto pump = [](BIO* from, BIO* to) {
    char buf[16384];
    int n;
    while ((n = BIO_read(from, buf, sizeof buf)) > 0) BIO_write(to, buf, n);
  };
  bool client_done = false, server_done = false, failed = false;
  for (int round = 0; round < 20 && !(client_done && server_done) && !failed; ++round) {
    if (!client_done) {
      const int r = SSL_do_handshake(client.get());
      if (r == 1)
        client_done = true;
      else if (SSL_get_error(client.get(), r) != SSL_ERROR_WANT_READ)
        failed = true;
    }
    pump(c_out, s_in);
    if (!server_done) {
      const int r = SSL_do_handshake(server.get());
      if (r == 1)
        server_done = true;
      else if (SSL_get_error(server.get(), r) != SSL_ERROR_WANT_READ)
        failed = true;
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
  out.tickets = g_tickets;
  if (X509* leaf = SSL_get1_peer_certificate(client.get())) {
    const int type = EVP_PKEY_get_base_id(X509_get0_pubkey(leaf));
    out.leaf_key_type = type == EVP_PKEY_RSA ? "RSA" : type == EVP_PKEY_EC ? "EC" : "other";
    char cn[256];
    const int len = X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn);
    if (len > 0) out.leaf_cn.assign(cn, static_cast<size_t>(len));
    X509_free(leaf);
  }
  out.session.reset(SSL_get1_session(client.get()));
  // A clean close, as a real client's: freeing an SSL that did not shut down spoils its session.
  SSL_set_shutdown(client.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  return out;
}

TEST(TlsHandshake, AlpnPrefersH2ThenHttp11FromTheClientsOffer) {
  const TlsServerContext ctx({section("a", "")});
  const Outcome both = handshake(ctx, {.alpn = {"http/1.1", "h2"}});
  ASSERT_TRUE(both.ok);
  EXPECT_EQ(both.alpn, "h2");  // the server's order
  EXPECT_EQ(both.server_alpn, "h2");
  const Outcome h1 = handshake(ctx, {.alpn = {"http/1.1"}});
  ASSERT_TRUE(h1.ok);
  EXPECT_EQ(h1.alpn, "http/1.1");
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
  b.options.alpn_protocols = {"http/1.0", "http/1.1"};  // a keeps the default
  const TlsServerContext ctx({a, b});
  EXPECT_EQ(handshake(ctx, {.sni = "a.org", .alpn = {"http/1.0", "http/1.1"}}).alpn, "http/1.1");
  EXPECT_EQ(handshake(ctx, {.sni = "b.org", .alpn = {"http/1.1", "http/1.0"}}).alpn,
            "http/1.0");  // the server's order
}

// A self-signed certificate for `names` with a fresh RSA or P-256 key, in PEM.
CertificatePair make_certificate(bool rsa, const std::vector<std::string>& names) {
  EVP_PKEY* key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), rsa ? 1 : 2);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
  X509_set_pubkey(x, key);
  X509_NAME* subject = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(names[0].c_str()), -1, -1, 0);
  X509_set_issuer_name(x, subject);
  std::string san;
  for (const auto& n : names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str());
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(x, key, EVP_sha256());
  auto pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(len));
    BIO_free(bio);
    return out;
  };
  CertificatePair pair{pem([&](BIO* b) { PEM_write_bio_X509(b, x); }), pem([&](BIO* b) {
                         PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
                       })};
  X509_free(x);
  EVP_PKEY_free(key);
  return pair;
}

TEST(TlsHandshake, RsaAndEcdsaCertificatesForOneNameAreChosenBySignatureAlgorithm) {
  const CertificatePair rsa = make_certificate(true, {"www.example.com"});
  const CertificatePair ec = make_certificate(false, {"www.example.com"});
  const TlsServerContext ctx({TlsCertificate{"a", "www.example.com", {rsa, ec}}});
  // TLS 1.3: the signature algorithms decide.
  EXPECT_EQ(handshake(ctx, {.sni = "www.example.com", .sigalgs = "rsa_pss_rsae_sha256"}).leaf_key_type,
            "RSA");
  EXPECT_EQ(handshake(ctx, {.sni = "www.example.com", .sigalgs = "ecdsa_secp256r1_sha256"}).leaf_key_type,
            "EC");
  // TLS 1.2: the cipher suite's authentication does.
  Outcome o = handshake(ctx, {.sni = "www.example.com",
                              .max_version = TLS1_2_VERSION,
                              .cipher_list = "ECDHE-RSA-AES128-GCM-SHA256"});
  EXPECT_EQ(o.version, "TLSv1.2");
  EXPECT_EQ(o.leaf_key_type, "RSA");
  o = handshake(ctx, {.sni = "www.example.com",
                      .max_version = TLS1_2_VERSION,
                      .cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256"});
  EXPECT_EQ(o.leaf_key_type, "EC");
  // The same in either order, and without SNI.
  const TlsServerContext reversed({TlsCertificate{"a", "", {ec, rsa}}});
  EXPECT_EQ(handshake(reversed, {.sigalgs = "rsa_pss_rsae_sha256"}).leaf_key_type, "RSA");
  EXPECT_EQ(handshake(reversed, {.sigalgs = "ecdsa_secp256r1_sha256"}).leaf_key_type, "EC");
}

TEST(TlsHandshake, CertificatesOfOneSectionAreChosenByTheirNames) {
  const CertificatePair a = make_certificate(false, {"a.example.com"});
  const CertificatePair b = make_certificate(false, {"*.b.example.com"});
  const TlsServerContext ctx({TlsCertificate{"any", "", {a, b}}});
  // Both same-type certificates are served (neither replaced the other): the section chooses by SNI.
  EXPECT_EQ(handshake(ctx, {.sni = "x.b.example.com"}).leaf_cn, "*.b.example.com");
  EXPECT_EQ(handshake(ctx, {.sni = "a.example.com"}).leaf_cn, "a.example.com");
  EXPECT_EQ(handshake(ctx, {.sni = "other.org"}).leaf_cn, "a.example.com");  // the first
  EXPECT_EQ(handshake(ctx, {}).leaf_cn, "a.example.com");
}

TEST(TlsHandshake, ResumesWithATicketForTls12AndTls13) {
  const TlsServerContext ctx({section("a", "")}, "gw:443");
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    const Outcome first = handshake(ctx, {.sni = "x.org", .max_version = version});
    ASSERT_TRUE(first.ok);
    ASSERT_TRUE(first.session);
    EXPECT_FALSE(first.reused);
    EXPECT_EQ(SSL_SESSION_has_ticket(first.session.get()), 1) << version;
    EXPECT_EQ(SSL_SESSION_is_resumable(first.session.get()), 1) << version;
    const Outcome second =
        handshake(ctx, {.sni = "x.org", .max_version = version, .resume = first.session.get()});
    EXPECT_TRUE(second.reused) << version;
    // Another context of the same listener (the next reload's, or another worker's) shares the keys.
    const TlsServerContext again({section("a", "")}, "gw:443");
    EXPECT_TRUE(
        handshake(again, {.sni = "x.org", .max_version = version, .resume = first.session.get()}).reused);
    // Another listener does not accept it.
    const TlsServerContext other({section("a", "")}, "gw:8443");
    EXPECT_FALSE(
        handshake(other, {.sni = "x.org", .max_version = version, .resume = first.session.get()}).reused);
  }
}

TEST(TlsHandshake, OneTicketPerFullHandshake) {
  // OpenSSL sends two TLS 1.3 tickets unless told otherwise; one is all a client needs (and each costs
  // the server a key derivation and an encryption per new connection).
  const TlsServerContext ctx({section("a", "")}, "gw:443");
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    const Outcome o = handshake(ctx, {.sni = "x.org", .max_version = version});
    ASSERT_TRUE(o.ok) << version;
    EXPECT_EQ(o.tickets, 1) << version;
  }
}

TEST(TlsTicketKeys, RotateAndKeepThePreviousKeyForDecryption) {
  auto now = std::chrono::steady_clock::time_point{};
  TicketKeys keys(std::chrono::seconds(60), [&] { return now; });
  const TicketKeys::Key k1 = keys.current();
  bool renew = true;
  EXPECT_TRUE(keys.find(k1.name.data(), &renew).has_value());
  EXPECT_FALSE(renew);
  now += std::chrono::seconds(61);
  const TicketKeys::Key k2 = keys.current();
  EXPECT_NE(k1.name, k2.name);
  ASSERT_TRUE(keys.find(k1.name.data(), &renew).has_value());  // the previous key still decrypts
  EXPECT_TRUE(renew);                                          // and the client gets a fresh ticket
  now += std::chrono::seconds(61);
  keys.current();
  EXPECT_FALSE(keys.find(k1.name.data(), &renew).has_value());  // two rotations: expired
  EXPECT_TRUE(keys.find(k2.name.data(), &renew).has_value());
}

TEST(TlsTicketKeys, ExpiredTicketMeansAFullHandshake) {
  auto now = std::chrono::steady_clock::time_point{};
  auto keys = std::make_shared<TicketKeys>(std::chrono::seconds(60), [&] { return now; });
  const TlsServerContext ctx({section("a", "")}, "gw:443", keys);
  const Outcome first = handshake(ctx, {.max_version = TLS1_2_VERSION});
  ASSERT_TRUE(first.session);
  now += std::chrono::seconds(61);
  EXPECT_TRUE(handshake(ctx, {.max_version = TLS1_2_VERSION, .resume = first.session.get()}).reused);
  now += std::chrono::seconds(200);
  EXPECT_FALSE(handshake(ctx, {.max_version = TLS1_2_VERSION, .resume = first.session.get()}).reused);
}

TEST(TlsHandshake, SectionOptionsSetVersionsAndCiphers) {
  TlsCertificate a = section("a", "a.org"), b = section("b", "b.org");
  b.options.min_version = "1.3";
  a.options.max_version = "1.2";
  a.options.ciphers = {"ECDHE-ECDSA-AES256-GCM-SHA384"};
  const TlsServerContext ctx({a, b});
  const Outcome on_a = handshake(ctx, {.sni = "a.org"});
  EXPECT_EQ(on_a.version, "TLSv1.2");
  EXPECT_EQ(on_a.cipher, "ECDHE-ECDSA-AES256-GCM-SHA384");
  EXPECT_FALSE(handshake(ctx, {.sni = "a.org",
                               .max_version = TLS1_2_VERSION,
                               .cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256"})
                   .ok);
  EXPECT_EQ(handshake(ctx, {.sni = "b.org"}).version, "TLSv1.3");
  EXPECT_FALSE(handshake(ctx, {.sni = "b.org", .max_version = TLS1_2_VERSION}).ok);
}

TEST(TlsHandshake, ClientCertificatesAreValidatedPerSection) {
  const CertificatePair client = make_certificate(false, {"client.example"});
  const CertificatePair stranger = make_certificate(false, {"stranger.example"});
  TlsCertificate strict = section("strict", "strict.org"), lax = section("lax", "lax.org");
  strict.client_ca_pem = client.cert_pem;  // self-signed: its own CA
  lax.client_ca_pem = client.cert_pem;
  lax.client_certificate_optional = true;
  const TlsServerContext ctx({section("open", ""), strict, lax});
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(version);
    EXPECT_TRUE(
        handshake(ctx, {.sni = "strict.org", .max_version = version, .client_certificate = &client}).ok);
    // TLS 1.3 clients finish before the server checks; the server's side fails either way.
    EXPECT_FALSE(handshake(ctx, {.sni = "strict.org", .max_version = version}).ok);
    EXPECT_FALSE(
        handshake(ctx, {.sni = "strict.org", .max_version = version, .client_certificate = &stranger}).ok);
    // AllowInsecureFallback: no certificate, or one that fails validation, is let through.
    EXPECT_TRUE(handshake(ctx, {.sni = "lax.org", .max_version = version}).ok);
    EXPECT_TRUE(handshake(ctx, {.sni = "lax.org", .max_version = version, .client_certificate = &client}).ok);
    EXPECT_TRUE(
        handshake(ctx, {.sni = "lax.org", .max_version = version, .client_certificate = &stranger}).ok);
    EXPECT_TRUE(handshake(ctx, {.sni = "other.org", .max_version = version}).ok);  // the open section
  }
  EXPECT_EQ(check_ca_bundle(client.cert_pem), "");
  EXPECT_NE(check_ca_bundle("not a certificate"), "");
}

TEST(TlsOptions, CheckNamesWhatIsWrong) {
  EXPECT_EQ(check_tls_options({}), "");
  EXPECT_EQ(check_tls_options({.min_version = "1.3",
                               .max_version = "1.3",
                               .ciphers = {"ECDHE-RSA-AES128-GCM-SHA256"},
                               .alpn_protocols = {"http/1.1"}}),
            "");
  EXPECT_NE(check_tls_options({.min_version = "1.1"}).find("1.1 is not supported"), std::string::npos);
  EXPECT_NE(check_tls_options({.min_version = "1.3", .max_version = "1.2"}).find("above"), std::string::npos);
  EXPECT_NE(check_tls_options({.ciphers = {"NOPE-CIPHER"}}).find("cipher NOPE-CIPHER"), std::string::npos);
  EXPECT_NE(check_tls_options({.ciphers = {"HIGH"}}), "");  // a cipher string, not a suite
  EXPECT_NE(check_tls_options({.ciphers = {"TLS_AES_128_GCM_SHA256"}}),
            "");  // TLS 1.3 suites are not configurable
  EXPECT_NE(check_tls_options({.alpn_protocols = {"spdy/3"}}).find("spdy/3"), std::string::npos);
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
