#include "net/upstream_tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <asio/ssl/context.hpp>
#include <stdexcept>

namespace mg::net {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

// Every certificate of a PEM bundle; empty when one fails to parse or there is none.
std::vector<std::unique_ptr<X509, X509Free>> read_certificates(std::string_view pem) {
  std::vector<std::unique_ptr<X509, X509Free>> out;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  // The loop ends at the end of the data (PEM_R_NO_START_LINE) or at a block that does not parse.
  const unsigned long last = ERR_peek_last_error();
  const bool clean_end = ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  if (!clean_end) out.clear();
  return out;
}

}  // namespace

std::string check_upstream_ca_bundle(std::string_view pem) {
  if (read_certificates(pem).empty()) return "ca.crt holds no PEM certificate that parses";
  return {};
}

UpstreamTlsContext::UpstreamTlsContext(UpstreamTlsSettings settings)
    : settings_(std::move(settings)),
      pool_prefix_("tls:" + settings_.policy + "|" + settings_.hostname + "|"),
      context_(std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client)) {
  SSL_CTX* ctx = context_->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (settings_.ca_pem.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) throw std::runtime_error("the system trust store does not load");
  } else {
    const auto certs = read_certificates(settings_.ca_pem);
    if (certs.empty()) throw std::runtime_error(check_upstream_ca_bundle(settings_.ca_pem));
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    for (const auto& c : certs) X509_STORE_add_cert(store, c.get());
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_verify_depth(ctx, 8);
  static constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn);
}

UpstreamTlsContext::~UpstreamTlsContext() = default;

bool UpstreamTlsContext::prepare(SSL* ssl, bool h2) const {
  static constexpr unsigned char kH2[] = {2, 'h', '2'};
  if (h2 && SSL_set_alpn_protos(ssl, kH2, sizeof kH2) != 0) return false;
  // SSL_set_tlsext_host_name is a macro with a C cast; this is the call it stands for.
  if (SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(settings_.hostname.c_str())) != 1)
    return false;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (!settings_.san_uris.empty()) return true;  // a URI may match where no name does: peer_matches decides
  if (settings_.san_hostnames.empty()) return X509_VERIFY_PARAM_set1_host(param, settings_.hostname.c_str(), 0) == 1;
  // Any one of the names will do (OpenSSL checks hosts added this way as alternatives).
  for (const auto& name : settings_.san_hostnames)
    if (X509_VERIFY_PARAM_add1_host(param, name.c_str(), 0) != 1) return false;
  return true;
}

bool UpstreamTlsContext::peer_matches(SSL* ssl) const {
  if (settings_.san_uris.empty()) return true;  // OpenSSL checked the names in the handshake
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (!peer) return false;
  for (const auto& name : settings_.san_hostnames)
    if (X509_check_host(peer, name.c_str(), name.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1)
      return true;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(peer, NID_subject_alt_name, nullptr, nullptr));
  bool matched = false;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !matched; ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_URI) continue;
    const std::string_view uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.uniformResourceIdentifier)),
                               static_cast<size_t>(ASN1_STRING_length(n->d.uniformResourceIdentifier)));
    for (const auto& want : settings_.san_uris) matched = matched || uri == want;
  }
  GENERAL_NAMES_free(names);
  return matched;
}

UpstreamTlsFailure UpstreamTlsContext::classify(SSL* ssl) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify == X509_V_OK) return UpstreamTlsFailure::kHandshakeFailed;
  if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
    return UpstreamTlsFailure::kNameMismatch;
  return UpstreamTlsFailure::kCertificateUntrusted;
}

std::string UpstreamTlsContext::describe(SSL* ssl) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) return X509_verify_cert_error_string(verify);
  const unsigned long e = ERR_peek_last_error();
  if (e == 0) return "handshake failed";
  char buffer[256];
  ERR_error_string_n(e, buffer, sizeof buffer);
  return buffer;
}

}  // namespace mg::net
