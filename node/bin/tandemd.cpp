// tandemd: the Tandem VPN headend node.
#include <cstdio>
#include <cstring>
#include <string>

#include "node/common/log.hpp"
#include "node/config/config.hpp"
#include "node/server/headend.hpp"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: tandemd [--config FILE]\n"
               "  Runs a Tandem headend node in the foreground, logging to stderr.\n"
               "  Without --config it runs a standalone node on built-in defaults.\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config_path = argv[++i];
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "tandemd: unknown argument '%s'\n", argv[i]);
      usage();
      return 2;
    }
  }
  auto config = config_path.empty() ? tandem::Result<tandem::config::Config>(
                                          tandem::config::default_config())
                                    : tandem::config::load_config(config_path);
  if (!config) {
    tandem::log::error("config_invalid", {{"reason", config.error()}});
    return 2;
  }
  tandem::server::Headend headend(std::move(*config));
  if (auto started = headend.start(); !started) {
    tandem::log::error("startup_failed", {{"reason", started.error()}});
    return 1;
  }
  headend.run();
  tandem::log::info("stopped");
  return 0;
}
