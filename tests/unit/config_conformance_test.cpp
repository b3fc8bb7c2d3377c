// Every manifest of the Gateway API conformance suite must load: a user can write anything these
// files contain, and the loader's strictness must never reject valid input.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/loader.h"

namespace mg::config {
namespace {

const std::filesystem::path kConformanceDir =
    std::filesystem::path(MG_SOURCE_DIR) / ".." / "shared" / "conformance";

std::string read_substituted(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  auto replace_all = [&](std::string_view from, std::string_view to) {
    for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
      text.replace(pos, from.size(), to);
  };
  replace_all("{GATEWAY_CLASS_NAME}", "mirrorgate");
  replace_all("{CONTROLLER_NAME}", "mirrorgate.io/gateway-controller");
  return text;
}

TEST(ConfigConformance, BaseManifestsLoad) {
  if (!std::filesystem::exists(kConformanceDir)) GTEST_SKIP() << kConformanceDir << " missing";
  const auto base = kConformanceDir / "base";
  const std::string text =
      read_substituted(base / "manifests.yaml") + "\n---\n" + read_substituted(base / "gatewayclass.yaml");
  const ObjectSet set = load_string(text, "base");
  EXPECT_EQ(set.gateway_classes.size(), 1u);
  EXPECT_EQ(set.gateways.size(), 4u);
  EXPECT_EQ(set.namespaces.size(), 3u);
  EXPECT_GE(set.services.size(), 10u);
  EXPECT_GT(set.ignored_objects, 0u);
}

TEST(ConfigConformance, EveryTestManifestLoadsOnTopOfBase) {
  if (!std::filesystem::exists(kConformanceDir)) GTEST_SKIP() << kConformanceDir << " missing";
  const auto base = kConformanceDir / "base";
  const std::string base_text =
      read_substituted(base / "manifests.yaml") + "\n---\n" + read_substituted(base / "gatewayclass.yaml");
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kConformanceDir / "tests")) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    SCOPED_TRACE(entry.path().filename().string());
    try {
      // Each test alone and together with the base, as the suite applies them.
      const ObjectSet alone = load_string(read_substituted(entry.path()), entry.path().string());
      const ObjectSet set =
          load_string(base_text + "\n---\n" + read_substituted(entry.path()), entry.path().string());
      EXPECT_GE(set.gateways.size(), 4u);
      EXPECT_GE(set.http_routes.size() + set.gateways.size(),
                alone.http_routes.size() + alone.gateways.size());
    } catch (const ConfigError& e) {
      ADD_FAILURE() << e.what();
    }
  }
  EXPECT_GE(files, 61u);
}

}  // namespace
}  // namespace mg::config
