#include "net/certificate_expiry.h"

#include <string>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace mg::net {
namespace {

// A self-signed P-256 certificate valid until `not_after` (Unix seconds), in PEM.
std::string certificate_until(time_t not_after) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  ASN1_TIME_set(X509_getm_notBefore(x), not_after - 3600);
  ASN1_TIME_set(X509_getm_notAfter(x), not_after);
  X509_set_pubkey(x, key);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_sign(x, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  X509_free(x);
  EVP_PKEY_free(key);
  return pem;
}

TEST(CertificateExpiry, IsTheLeafsNotAfterInUnixSeconds) {
  // 2031-03-05T05:06:07Z (UTCTime) and 2051-01-01T00:00:00Z (GeneralizedTime, from 2050 on).
  EXPECT_EQ(certificate_not_after(certificate_until(1930453567)), 1930453567);
  EXPECT_EQ(certificate_not_after(certificate_until(2556144000)), 2556144000);
  // A chain: the first certificate is the leaf.
  EXPECT_EQ(certificate_not_after(certificate_until(1930453567) + certificate_until(2556144000)), 1930453567);
}

TEST(CertificateExpiry, NothingForWhatIsNoCertificate) {
  EXPECT_EQ(certificate_not_after(""), std::nullopt);
  EXPECT_EQ(certificate_not_after("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"),
            std::nullopt);
}

}  // namespace
}  // namespace mg::net
