#include "net/tls_context.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>

#include <asio/buffer.hpp>
#include <asio/ssl/context.hpp>

namespace mg::net {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// A server context holding one certificate; false (with `error`) when the material does not load.
bool load(asio::ssl::context& ctx, std::string_view cert_pem, std::string_view key_pem, std::string& error) {
  std::error_code ec;
  ctx.use_certificate_chain(asio::buffer(cert_pem.data(), cert_pem.size()), ec);
  if (ec) {
    error = "tls.crt is not a PEM certificate (" + ec.message() + ")";
    return false;
  }
  ctx.use_private_key(asio::buffer(key_pem.data(), key_pem.size()), asio::ssl::context::pem, ec);
  if (ec) {
    error = "tls.key is not a PEM private key (" + ec.message() + ")";
    return false;
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    error = "tls.key does not match the certificate in tls.crt";
    return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> decode_base64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0, padding = 0;
  size_t symbols = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      ++symbols;
      continue;
    }
    const int v = value(c);
    if (v < 0 || padding > 0) return std::nullopt;  // a data symbol after padding is not base64
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    ++symbols;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (symbols % 4 != 0 || padding > 2) return std::nullopt;
  return out;
}

std::string_view negotiated_protocol(const SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  if (ssl) SSL_get0_alpn_selected(ssl, &data, &len);
  return data ? std::string_view(reinterpret_cast<const char*>(data), len) : std::string_view();
}

std::optional<std::string_view> select_alpn(std::span<const std::string> server, std::string_view client_wire) {
  for (const std::string& want : server) {
    for (size_t i = 0; i < client_wire.size();) {
      const size_t len = static_cast<unsigned char>(client_wire[i]);
      if (len == 0 || i + 1 + len > client_wire.size()) return std::nullopt;  // malformed
      const std::string_view offered = client_wire.substr(i + 1, len);
      if (offered == want) return offered;
      i += 1 + len;
    }
  }
  return std::nullopt;
}

size_t select_certificate(std::span<const TlsCertificate> certs, std::string_view server_name) {
  size_t wildcard = certs.size(), wildcard_len = 0, any = certs.size();
  for (size_t i = 0; i < certs.size(); ++i) {
    const std::string& h = certs[i].hostname;
    if (h.empty()) {
      if (any == certs.size()) any = i;
    } else if (server_name.empty()) {
      continue;
    } else if (h.starts_with("*.")) {
      const std::string_view suffix = std::string_view(h).substr(1);  // ".example.com"
      if (server_name.size() > suffix.size() &&
          iequals(server_name.substr(server_name.size() - suffix.size()), suffix) && suffix.size() > wildcard_len) {
        wildcard = i;
        wildcard_len = suffix.size();
      }
    } else if (iequals(h, server_name)) {
      return i;
    }
  }
  if (wildcard < certs.size()) return wildcard;
  if (any < certs.size()) return any;
  return 0;
}

std::string check_certificate(std::string_view cert_pem, std::string_view key_pem) {
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  std::string error;
  load(ctx, cert_pem, key_pem, error);
  return error;
}

TlsServerContext::TlsServerContext(std::vector<TlsCertificate> certs) : certs_(std::move(certs)) {
  if (certs_.empty()) throw std::runtime_error("a TLS listener needs at least one certificate");
  for (auto& c : certs_)
    if (c.alpn_protocols.empty()) c.alpn_protocols.assign(std::begin(kDefaultAlpnProtocols), std::end(kDefaultAlpnProtocols));
  for (auto& c : certs_) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    std::string error;
    if (!load(*ctx, c.cert_pem, c.key_pem, error))
      throw std::runtime_error("listener " + c.section + ": " + error);
    // The callback of the context SNI chose runs, with that section's list.
    SSL_CTX_set_alpn_select_cb(native, &TlsServerContext::on_alpn, &c);
    // Every context carries the callback: it runs on the context the SSL was created with.
    SSL_CTX_callback_ctrl(native, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                          reinterpret_cast<void (*)()>(&TlsServerContext::on_server_name));
    SSL_CTX_ctrl(native, SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, this);
    contexts_.push_back(std::move(ctx));
  }
  default_ = select_certificate(certs_, {});
}

TlsServerContext::~TlsServerContext() = default;

int TlsServerContext::on_server_name(SSL* ssl, int*, void* arg) {
  const auto* self = static_cast<const TlsServerContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;  // no SNI: keep the default certificate
  const size_t i = select_certificate(self->certs_, name);
  if (i != self->default_) SSL_set_SSL_CTX(ssl, self->contexts_[i]->native_handle());
  return SSL_TLSEXT_ERR_OK;
}

int TlsServerContext::on_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                              unsigned int in_len, void* arg) {
  // Only called when the client offered ALPN; a client that did not speaks HTTP/1.1. One that offered
  // only protocols we do not speak gets no_application_protocol (RFC 7301 section 3.2).
  const auto* section = static_cast<const TlsCertificate*>(arg);
  const auto chosen = select_alpn(section->alpn_protocols, std::string_view(reinterpret_cast<const char*>(in), in_len));
  if (!chosen) return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = reinterpret_cast<const unsigned char*>(chosen->data());  // points into `in`, as OpenSSL allows
  *out_len = static_cast<unsigned char>(chosen->size());
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace mg::net
