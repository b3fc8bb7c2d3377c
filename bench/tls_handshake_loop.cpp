// Server-side CPU of full TLS 1.3 handshakes, without sockets: a client and a server SSL shuttle bytes
// through memory BIOs, and only the server's calls are timed (CLOCK_THREAD_CPUTIME_ID), so what one
// handshake setting costs shows at a precision MODE=tls-new cannot reach on a shared machine.
//
//   g++ -std=c++20 -O2 -o tls-handshake-loop bench/tls_handshake_loop.cpp -lssl -lcrypto
//   taskset -c 1 ./tls-handshake-loop CERT KEY TICKETS [HANDSHAKES]
//
// TICKETS is the number of TLS 1.3 session tickets per handshake (SSL_CTX_set_num_tickets; OpenSSL's
// default is 2). Tickets are stateless under OpenSSL's own keys, as with no ticket key callback.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

void pump(BIO* from, BIO* to) {
  char buffer[16384];
  int n;
  while ((n = BIO_read(from, buffer, sizeof buffer)) > 0) BIO_write(to, buffer, n);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s CERT KEY TICKETS [HANDSHAKES]\n", argv[0]);
    return 2;
  }
  const int tickets = std::atoi(argv[3]);
  const int handshakes = argc > 4 ? std::atoi(argv[4]) : 3000;
  SSL_CTX* server_ctx = SSL_CTX_new(TLS_server_method());
  if (SSL_CTX_use_certificate_chain_file(server_ctx, argv[1]) != 1 ||
      SSL_CTX_use_PrivateKey_file(server_ctx, argv[2], SSL_FILETYPE_PEM) != 1) {
    std::fprintf(stderr, "cannot load %s / %s\n", argv[1], argv[2]);
    return 1;
  }
  SSL_CTX_set_session_cache_mode(server_ctx, SSL_SESS_CACHE_OFF);  // stateless tickets, as the gateway
  SSL_CTX_set_num_tickets(server_ctx, static_cast<size_t>(tickets));
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_OFF);

  double server = 0;
  for (int i = 0; i < handshakes; ++i) {
    SSL* client = SSL_new(client_ctx);
    double start = cpu_seconds();
    SSL* ssl = SSL_new(server_ctx);
    server += cpu_seconds() - start;
    BIO *c_in = BIO_new(BIO_s_mem()), *c_out = BIO_new(BIO_s_mem());
    BIO *s_in = BIO_new(BIO_s_mem()), *s_out = BIO_new(BIO_s_mem());
    SSL_set_bio(client, c_in, c_out);
    SSL_set_bio(ssl, s_in, s_out);
    SSL_set_connect_state(client);
    SSL_set_accept_state(ssl);
    bool client_done = false, server_done = false;
    for (int round = 0; round < 10 && !(client_done && server_done); ++round) {
      if (!client_done) client_done = SSL_do_handshake(client) == 1;
      pump(c_out, s_in);
      if (!server_done) {
        start = cpu_seconds();
        server_done = SSL_do_handshake(ssl) == 1;  // the last call also writes the tickets
        server += cpu_seconds() - start;
      }
      pump(s_out, c_in);
    }
    if (!client_done || !server_done) {
      std::fprintf(stderr, "handshake %d failed\n", i);
      return 1;
    }
    char byte;
    SSL_read(client, &byte, 1);  // the client takes in the tickets
    ERR_clear_error();
    start = cpu_seconds();
    SSL_free(ssl);
    server += cpu_seconds() - start;
    SSL_free(client);
  }
  std::printf("tickets=%d  %.1f us server CPU per handshake (%d handshakes)\n", tickets,
              server / handshakes * 1e6, handshakes);
  SSL_CTX_free(client_ctx);
  SSL_CTX_free(server_ctx);
  return 0;
}
