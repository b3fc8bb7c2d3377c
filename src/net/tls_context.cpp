#include "net/tls_context.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <asio/ssl/context.hpp>
#include <cstdint>
#include <stdexcept>

#include "net/client_hello.h"
#include "net/ticket_keys.h"

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

struct Free {
  void operator()(BIO* b) const { BIO_free(b); }
  void operator()(X509* x) const { X509_free(x); }
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// A certificate name ("www.example.com", "*.example.com") covering a server name (RFC 6125: the
// wildcard stands for exactly one label).
bool name_covers(std::string_view name, std::string_view server_name) {
  if (name.starts_with("*.")) {
    const size_t dot = server_name.find('.');
    return dot != std::string_view::npos && dot > 0 && iequals(server_name.substr(dot), name.substr(1));
  }
  return iequals(name, server_name);
}

// The DNS names of a certificate (its subjectAltName, else its CN), lowercase and sorted.
std::vector<std::string> names_of(X509* leaf) {
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
      if (n->type != GEN_DNS) continue;
      const ASN1_IA5STRING* dns = n->d.dNSName;
      names.push_back(lower(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                             static_cast<size_t>(ASN1_STRING_length(dns)))));
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    char cn[256];
    const int len = X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn);
    if (len > 0) names.push_back(lower(std::string_view(cn, static_cast<size_t>(len))));
  }
  std::sort(names.begin(), names.end());
  return names;
}

struct Loaded {
  std::unique_ptr<X509, Free> leaf;
  std::vector<std::unique_ptr<X509, Free>> chain;
  std::unique_ptr<EVP_PKEY, Free> key;
  int key_type = 0;
};

// Parses a pair; false (with `error`) when it does not parse or the key is not the certificate's.
bool parse(const CertificatePair& pair, Loaded& out, std::string& error) {
  std::unique_ptr<BIO, Free> bio(
      BIO_new_mem_buf(pair.cert_pem.data(), static_cast<int>(pair.cert_pem.size())));
  out.leaf.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!out.leaf) {
    ERR_clear_error();
    error = "tls.crt is not a PEM certificate";
    return false;
  }
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.chain.emplace_back(extra);
  ERR_clear_error();  // the end of the chain reads as an error
  std::unique_ptr<BIO, Free> key_bio(
      BIO_new_mem_buf(pair.key_pem.data(), static_cast<int>(pair.key_pem.size())));
  out.key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!out.key) {
    ERR_clear_error();
    error = "tls.key is not a PEM private key";
    return false;
  }
  if (X509_check_private_key(out.leaf.get(), out.key.get()) != 1) {
    ERR_clear_error();
    error = "tls.key does not match the certificate in tls.crt";
    return false;
  }
  out.key_type = EVP_PKEY_get_base_id(out.key.get());
  return true;
}

// Adds a parsed pair to a context (in the slot of its key type, with its own chain).
bool add(SSL_CTX* ctx, const Loaded& l, std::string& error) {
  if (SSL_CTX_use_certificate(ctx, l.leaf.get()) != 1 || SSL_CTX_use_PrivateKey(ctx, l.key.get()) != 1) {
    ERR_clear_error();
    error = "the certificate or its key is not usable by TLS";
    return false;
  }
  SSL_CTX_clear_chain_certs(ctx);
  for (const auto& c : l.chain) SSL_CTX_add1_chain_cert(ctx, c.get());
  return true;
}

int version_of(std::string_view v, int fallback) {
  if (v == "1.2") return TLS1_2_VERSION;
  if (v == "1.3") return TLS1_3_VERSION;
  return fallback;
}

std::string cipher_list(const TlsOptions& o) {
  if (o.ciphers.empty()) return OSSL_default_cipher_list();
  std::string list;
  for (const auto& c : o.ciphers) list += (list.empty() ? "" : ":") + c;
  return list;
}

int verify_mode(const TlsCertificate& c) {
  if (c.client_ca_pem.empty()) return SSL_VERIFY_NONE;
  return SSL_VERIFY_PEER | (c.client_certificate_optional ? 0 : SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
}

// AllowInsecureFallback: the certificate is still asked for and checked, but a failed check does not end
// the handshake (authorizing the client is then the backend's business).
int accept_unverified(int, X509_STORE_CTX*) { return 1; }

SSL_verify_cb verify_callback(const TlsCertificate& c) {
  return c.client_certificate_optional ? &accept_unverified : nullptr;
}

bool apply_options(SSL* ssl, const TlsOptions& o) {
  return SSL_set_min_proto_version(ssl, version_of(o.min_version, TLS1_2_VERSION)) == 1 &&
         SSL_set_max_proto_version(ssl, version_of(o.max_version, 0)) == 1 &&
         SSL_set_cipher_list(ssl, cipher_list(o).c_str()) == 1;
}

int context_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Session tickets under the process's rotating keys (ticket_keys.h); the man page's recipe.
int on_ticket_key(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                  EVP_MAC_CTX* mac, int encrypt) {
  auto* keys = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), context_index()));
  if (!keys) return -1;
  TicketKeys::Key key;
  bool renew = false;
  if (encrypt) {
    key = keys->current();
    std::copy(key.name.begin(), key.name.end(), key_name);
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
  } else {
    auto found = keys->find(key_name, &renew);
    if (!found) return 0;  // an unknown or expired key: a full handshake, and a new ticket
    key = *found;
    // TLS 1.3 clients use a ticket once (RFC 8446 C.4; OpenSSL's client and browsers do), and OpenSSL
    // sends a resumed session a new ticket only when asked to renew: without one, every other connection
    // of such a client was a full handshake.
    if (SSL_version(ssl) == TLS1_3_VERSION) renew = true;
  }
  char digest[] = "sha256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  const int ok = encrypt ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv)
                         : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv);
  if (ok != 1) return -1;
  return renew ? 2 : 1;
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

std::string_view server_name(const SSL* ssl) {
  const char* name = ssl ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : nullptr;
  return name ? std::string_view(name) : std::string_view();
}

std::optional<std::string_view> select_alpn(std::span<const std::string> server,
                                            std::string_view client_wire) {
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
          iequals(server_name.substr(server_name.size() - suffix.size()), suffix) &&
          suffix.size() > wildcard_len) {
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
  Loaded loaded;
  std::string error;
  if (!parse(CertificatePair{std::string(cert_pem), std::string(key_pem)}, loaded, error)) return error;
  std::unique_ptr<SSL_CTX, Free> ctx(SSL_CTX_new(TLS_server_method()));
  add(ctx.get(), loaded, error);
  return error;
}

// The certificates of a PEM bundle, in order; empty when one does not parse.
std::vector<std::unique_ptr<X509, Free>> read_bundle(std::string_view pem) {
  std::vector<std::unique_ptr<X509, Free>> out;
  std::unique_ptr<BIO, Free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  const unsigned long err = ERR_peek_last_error();
  ERR_clear_error();
  // The end of the input reads as "no start line"; anything else is a broken certificate.
  if (err != 0 && ERR_GET_REASON(err) != PEM_R_NO_START_LINE) out.clear();
  return out;
}

std::string check_ca_bundle(std::string_view pem) {
  if (read_bundle(pem).empty()) return "ca.crt holds no PEM CA certificate that parses";
  return {};
}

std::string check_tls_options(const TlsOptions& o) {
  for (const auto* v : {&o.min_version, &o.max_version})
    if (!v->empty() && *v != "1.2" && *v != "1.3")
      return "TLS version " + *v + " is not supported (1.2 or 1.3; 1.0 and 1.1 are deprecated, RFC 8996)";
  if (version_of(o.min_version, TLS1_2_VERSION) > version_of(o.max_version, TLS1_3_VERSION))
    return "minVersion " + o.min_version + " is above maxVersion " + o.max_version;
  std::unique_ptr<SSL_CTX, Free> ctx(SSL_CTX_new(TLS_server_method()));
  for (const auto& c : o.ciphers) {
    // One suite per entry: a cipher string ("HIGH", "A:B", "!aNULL") is not a suite name.
    bool known =
        c.find_first_of(":, !+@") == std::string::npos && SSL_CTX_set_cipher_list(ctx.get(), c.c_str()) == 1;
    if (known) {
      known = false;
      STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(ctx.get());
      for (int i = 0; i < sk_SSL_CIPHER_num(list); ++i)
        if (c == SSL_CIPHER_get_name(sk_SSL_CIPHER_value(list, i))) known = true;
    }
    ERR_clear_error();
    if (!known)
      return "cipher " + c +
             " is not a TLS 1.2 cipher suite OpenSSL knows (OpenSSL names, e.g. ECDHE-RSA-AES128-GCM-SHA256)";
  }
  for (const auto& p : o.alpn_protocols) {
    const bool spoken =
        p == "http/1.0" || std::find(std::begin(kDefaultAlpnProtocols), std::end(kDefaultAlpnProtocols), p) !=
                               std::end(kDefaultAlpnProtocols);
    if (!spoken) return "ALPN protocol " + p + " is not spoken by this gateway";
  }
  return {};
}

TlsServerContext::TlsServerContext(std::vector<TlsCertificate> certs, std::string_view identity,
                                   std::shared_ptr<TicketKeys> ticket_keys)
    : certs_(std::move(certs)), ticket_keys_(ticket_keys ? std::move(ticket_keys) : TicketKeys::process()) {
  if (certs_.empty()) throw std::runtime_error("a TLS listener needs at least one certificate");
  // The session id context: tickets resume only on the listener and section that issued them (a
  // section that validates client certificates never resumes a session made without one).
  auto session_context = [&](const TlsCertificate& c, unsigned char* out) {
    std::string id(identity);
    id += "\n" + c.section + "\n" + c.hostname + "\n" + c.client_ca_pem +
          (c.client_certificate_optional ? "\n?" : "");
    unsigned int len = 0;
    EVP_Digest(id.data(), id.size(), out, &len, EVP_sha256(), nullptr);
    return std::min<unsigned int>(len, SSL_MAX_SID_CTX_LENGTH);
  };

  for (size_t si = 0; si < certs_.size(); ++si) {
    TlsCertificate& c = certs_[si];
    if (c.pairs.empty()) throw std::runtime_error("listener " + c.section + ": no certificate");
    if (c.options.alpn_protocols.empty())
      c.options.alpn_protocols.assign(std::begin(kDefaultAlpnProtocols), std::end(kDefaultAlpnProtocols));
    if (std::string error = check_tls_options(c.options); !error.empty())
      throw std::runtime_error("listener " + c.section + ": " + error);
    unsigned char sid_ctx[EVP_MAX_MD_SIZE];
    const unsigned int sid_len = session_context(c, sid_ctx);
    const size_t first_group = groups_.size();
    for (const auto& pair : c.pairs) {
      Loaded loaded;
      std::string error;
      if (!parse(pair, loaded, error)) throw std::runtime_error("listener " + c.section + ": " + error);
      std::vector<std::string> names = names_of(loaded.leaf.get());
      // Certificates for the same names share a context, one per key type; OpenSSL then picks by the
      // client's signature algorithms (and, in TLS 1.2, by the cipher suite).
      Group* group = nullptr;
      for (size_t g = first_group; g < groups_.size() && !group; ++g)
        if (groups_[g].names == names && std::find(groups_[g].key_types.begin(), groups_[g].key_types.end(),
                                                   loaded.key_type) == groups_[g].key_types.end())
          group = &groups_[g];
      if (!group) {
        auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
        SSL_CTX* native = ctx->native_handle();
        SSL_CTX_set_options(
            native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
        SSL_CTX_set_min_proto_version(native, version_of(c.options.min_version, TLS1_2_VERSION));
        SSL_CTX_set_max_proto_version(native, version_of(c.options.max_version, 0));
        if (SSL_CTX_set_cipher_list(native, cipher_list(c.options).c_str()) != 1)
          throw std::runtime_error("listener " + c.section + ": no usable cipher");
        // Each context carries every callback: after the ClientHello switches the SSL to its section's
        // context, that context's ALPN callback (with the section's list) runs.
        SSL_CTX_set_client_hello_cb(native, &TlsServerContext::on_client_hello, this);
        SSL_CTX_callback_ctrl(native, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                              reinterpret_cast<void (*)()>(&TlsServerContext::on_server_name));
        SSL_CTX_set_alpn_select_cb(native, &TlsServerContext::on_alpn, &c);
        // Stateless resumption only: tickets under keys every worker shares; no per-context cache.
        SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_session_id_context(native, sid_ctx, sid_len);
        SSL_CTX_set_timeout(native, static_cast<long>(ticket_keys_->rotation().count()));
        SSL_CTX_set_ex_data(native, context_index(), ticket_keys_.get());
        SSL_CTX_set_tlsext_ticket_key_evp_cb(native, &on_ticket_key);
        // One TLS 1.3 ticket per full handshake, not OpenSSL's two: each costs a key derivation, a
        // sealed copy of the session and a record, and a stateless ticket may be presented again, so one
        // serves a client's parallel connections too (Go's crypto/tls sends one as well).
        SSL_CTX_set_num_tickets(native, 1);
        if (!c.client_ca_pem.empty()) {
          X509_STORE* store = SSL_CTX_get_cert_store(native);
          STACK_OF(X509_NAME)* ca_names = sk_X509_NAME_new_null();
          const auto bundle = read_bundle(c.client_ca_pem);
          if (bundle.empty())
            throw std::runtime_error("listener " + c.section + ": " + check_ca_bundle(c.client_ca_pem));
          for (const auto& ca : bundle) {
            X509_STORE_add_cert(store, ca.get());
            sk_X509_NAME_push(ca_names, X509_NAME_dup(X509_get_subject_name(ca.get())));
          }
          SSL_CTX_set_client_CA_list(native, ca_names);  // the CertificateRequest names them
          SSL_CTX_set_verify(native, verify_mode(c), verify_callback(c));
          SSL_CTX_set_verify_depth(native, 8);
        }
        groups_.push_back(Group{si, std::move(names), {}, std::move(ctx)});
        group = &groups_.back();
      }
      if (!add(group->context->native_handle(), loaded, error))
        throw std::runtime_error("listener " + c.section + ": " + error);
      group->key_types.push_back(loaded.key_type);
    }
  }
  const size_t section = select_certificate(certs_, {});
  default_group_ = group_for(section, {});
}

TlsServerContext::~TlsServerContext() = default;

size_t TlsServerContext::group_for(size_t section, std::string_view server_name) const {
  size_t first = groups_.size();
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (groups_[g].section != section) continue;
    if (first == groups_.size()) first = g;
    if (server_name.empty()) break;
    for (const auto& name : groups_[g].names)
      if (name_covers(name, server_name)) return g;
  }
  return first;
}

std::string_view TlsServerContext::section_of(const SSL* ssl) const {
  const SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  for (const auto& g : groups_)
    if (g.context->native_handle() == ctx) return certs_[g.section].section;
  return {};
}

int TlsServerContext::on_client_hello(SSL* ssl, int* alert, void* arg) {
  // Before version and cipher negotiation and before a ticket is opened: the section's context and
  // settings then govern all of it.
  const auto* self = static_cast<const TlsServerContext*>(arg);
  const std::string_view name = client_hello_server_name(ssl);
  const size_t g = self->group_for(select_certificate(self->certs_, name), name);
  if (g == self->default_group_) return SSL_CLIENT_HELLO_SUCCESS;
  const Group& group = self->groups_[g];
  SSL_set_SSL_CTX(ssl, group.context->native_handle());
  // The SSL keeps what it copied from the first context; the section's own settings replace it.
  // The verify mode too: SSL_set_SSL_CTX keeps the first context's.
  SSL_set_verify(ssl, verify_mode(self->certs_[group.section]), verify_callback(self->certs_[group.section]));
  if (!apply_options(ssl, self->certs_[group.section].options)) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

// The section was chosen by the ClientHello callback already; answering OK acknowledges the name (and
// keeps it in the session, which TLS 1.3 resumption checks).
int TlsServerContext::on_server_name(SSL*, int*, void*) {
  return SSL_TLSEXT_ERR_OK;
}

int TlsServerContext::on_alpn(SSL*, const unsigned char** out, unsigned char* out_len,
                              const unsigned char* in, unsigned int in_len, void* arg) {
  // Only called when the client offered ALPN; a client that did not speaks HTTP/1.1. One that offered
  // only protocols we do not speak gets no_application_protocol (RFC 7301 section 3.2).
  const auto* section = static_cast<const TlsCertificate*>(arg);
  const auto chosen = select_alpn(section->options.alpn_protocols,
                                  std::string_view(reinterpret_cast<const char*>(in), in_len));
  if (!chosen) return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = reinterpret_cast<const unsigned char*>(chosen->data());  // points into `in`, as OpenSSL allows
  *out_len = static_cast<unsigned char>(chosen->size());
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace mg::net
