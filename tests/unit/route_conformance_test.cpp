// Translating every conformance manifest set must succeed, and the invalid-reference tests must
// surface as warnings rather than silently routing somewhere.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/loader.h"
#include "route/translator.h"
#include "fixtures.h"

namespace mg::route {
namespace {

const std::filesystem::path kDir = std::filesystem::path(MG_SOURCE_DIR) / ".." / "shared" / "conformance";

std::string read_substituted(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  for (const auto& [from, to] :
       {std::pair<std::string_view, std::string_view>{"{GATEWAY_CLASS_NAME}", "mirrorgate"},
        {"{CONTROLLER_NAME}", "mirrorgate.io/gateway-controller"}}) {
    for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
      text.replace(pos, from.size(), to);
  }
  return text;
}

std::shared_ptr<const RouteTable> translate_test(const std::string& name) {
  const std::string text = read_substituted(kDir / "base" / "manifests.yaml") + "\n---\n" +
                           read_substituted(kDir / "base" / "gatewayclass.yaml") + "\n---\n" +
                           read_substituted(kDir / "tests" / (name + ".yaml"));
  config::ObjectSet set = config::load_string(text, name);
  test::give_each_gateway_an_address(set);
  return translate(set);
}

bool has_warning(const RouteTable& t, std::string_view needle) {
  for (const auto& w : t.warnings)
    if (w.find(needle) != std::string::npos) return true;
  return false;
}

TEST(RouteConformance, EveryTestTranslates) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  for (const auto& entry : std::filesystem::directory_iterator(kDir / "tests")) {
    SCOPED_TRACE(entry.path().filename().string());
    const auto t = translate_test(entry.path().stem().string());
    EXPECT_FALSE(t->listeners.empty());
  }
}

TEST(RouteConformance, InvalidReferencesBecomeWarnings) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  EXPECT_TRUE(has_warning(*translate_test("HTTPRouteInvalidNonExistentBackendRef"), "not found"));
  EXPECT_TRUE(has_warning(*translate_test("HTTPRouteInvalidCrossNamespaceBackendRef"), "no ReferenceGrant"));
  EXPECT_TRUE(has_warning(*translate_test("HTTPRouteInvalidBackendRefUnknownKind"), "is not supported"));
  EXPECT_FALSE(has_warning(*translate_test("HTTPRouteReferenceGrant"), "no ReferenceGrant"));
}

TEST(RouteConformance, ExactPathMatchingRoutesAsExpected) {
  if (!std::filesystem::exists(kDir)) GTEST_SKIP() << kDir << " missing";
  const auto t = translate_test("HTTPRouteExactPathMatching");
  const Listener* same = nullptr;
  for (const auto& l : t->listeners)
    if (l.gateway == "gateway-conformance-infra/same-namespace") same = &l;
  ASSERT_NE(same, nullptr);
  const Rule* one = same->match({"GET", "example.com", "/one"});
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(one->route, "gateway-conformance-infra/exact-matching");
  EXPECT_EQ(same->match({"GET", "example.com", "/one/example"}), nullptr);
}

}  // namespace
}  // namespace mg::route
