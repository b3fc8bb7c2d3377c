// The admin token: what carries it, how it is compared, where it is required, and that every endpoint but
// /ready refuses without it.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "admin/admin_auth.h"
#include "admin/admin_client.h"
#include "admin/admin_server.h"
#include "admin_stub_handlers.h"

namespace mg::admin {
namespace {

TEST(AdminAuth, BearerCarriesTheToken) {
  EXPECT_TRUE(authorization_carries("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(authorization_carries("bearer s3cret ", "s3cret"));  // scheme case-insensitive, OWS trimmed
  EXPECT_FALSE(authorization_carries("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(authorization_carries("Bearer s3cret2", "s3cret"));
  EXPECT_FALSE(authorization_carries("Bearer ", "s3cret"));
  EXPECT_FALSE(authorization_carries("", "s3cret"));
  EXPECT_FALSE(authorization_carries("s3cret", "s3cret"));
  EXPECT_FALSE(authorization_carries("Bearers3cret", "s3cret"));
}

TEST(AdminAuth, BasicCarriesTheTokenAsPassword) {
  EXPECT_TRUE(authorization_carries("Basic YWRtaW46czNjcmV0", "s3cret"));  // admin:s3cret
  EXPECT_TRUE(authorization_carries("Basic OnMzY3JldA==", "s3cret"));      // :s3cret
  EXPECT_FALSE(authorization_carries("Basic czNjcmV0OmFkbWlu", "s3cret"));  // s3cret:admin: not the user name
  EXPECT_FALSE(authorization_carries("Basic czNjcmV0", "s3cret"));          // no colon
  EXPECT_FALSE(authorization_carries("Basic !!!!", "s3cret"));
}

TEST(AdminAuth, SameSecretComparesWholeStrings) {
  EXPECT_TRUE(same_secret("abc", "abc"));
  EXPECT_FALSE(same_secret("abc", "abd"));
  EXPECT_FALSE(same_secret("ab", "abc"));
  EXPECT_FALSE(same_secret("abcd", "abc"));
  EXPECT_FALSE(same_secret(std::string_view("ab\0", 3), "ab"));
}

TEST(AdminAuth, LoopbackAddresses) {
  for (const char* a : {"127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1"})
    EXPECT_TRUE(is_loopback(asio::ip::make_address(a))) << a;
  for (const char* a : {"0.0.0.0", "10.0.0.1", "::", "::ffff:10.0.0.1", "192.168.1.1"})
    EXPECT_FALSE(is_loopback(asio::ip::make_address(a))) << a;
}

TEST(AdminAuth, TokenRequiredOffLoopbackOnly) {
  EXPECT_NO_THROW(require_token_off_loopback("127.0.0.1:9901", ""));
  EXPECT_NO_THROW(require_token_off_loopback("[::1]:9901", ""));
  EXPECT_NO_THROW(require_token_off_loopback("0.0.0.0:9901", "t"));
  try {
    require_token_off_loopback("0.0.0.0:9901", "");
    FAIL() << "no error for 0.0.0.0 without a token";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--admin-token-file"), std::string::npos) << e.what();
  }
  EXPECT_THROW(require_token_off_loopback(":9901", ""), std::runtime_error);  // no host: every address
}

TEST(AdminAuth, TokenFileLosesItsTrailingNewline) {
  const auto path = std::filesystem::temp_directory_path() / "mg-admin-token-test";
  std::ofstream(path) << "s3cret\n";
  EXPECT_EQ(read_token_file(path.string()), "s3cret");
  std::ofstream(path) << "\n  \n";
  EXPECT_THROW(read_token_file(path.string()), std::runtime_error);
  std::filesystem::remove(path);
  EXPECT_THROW(read_token_file(path.string()), std::runtime_error);
}

TEST(AdminServerAuth, EveryEndpointButReadyRefusesWithoutTheToken) {
  AdminServer server("127.0.0.1:0", test::stub_admin_handlers("m 1\n"), "s3cret");
  server.start();
  const std::string address = "127.0.0.1:" + std::to_string(server.port());
  for (const char* path : {"/", "/metrics", "/status", "/config_dump", "/mirrors", "/mirrors/diff", "/topology",
                           "/page/app.js", "/nothing"}) {
    EXPECT_EQ(admin_get(address, path).status, 401) << path;
    EXPECT_EQ(admin_get(address, path, 5000, "wrong").status, 401) << path;
    EXPECT_NE(admin_get(address, path, 5000, "s3cret").status, 401) << path;
  }
  EXPECT_EQ(admin_get(address, "/metrics", 5000, "s3cret").body, "m 1\n");
  EXPECT_EQ(admin_get(address, "/ready").status, 200);  // probes carry no token
  server.stop();
}

}  // namespace
}  // namespace mg::admin
