#pragma once
// The config tests' two ways of parsing a TOML text: one that must be accepted, one that must be
// refused (its error message returned for the test to match).
#include <gtest/gtest.h>

#include <string>

#include "node/config/config.hpp"

namespace tandem::testing {

inline config::Config parse_ok(const std::string& text) {
  auto c = config::parse_config(text, "test.toml");
  EXPECT_TRUE(c.ok()) << c.error();
  return c.ok() ? c.value() : config::default_config();
}

inline std::string parse_error(const std::string& text) {
  auto c = config::parse_config(text, "test.toml");
  EXPECT_FALSE(c.ok()) << "accepted:\n" << text;
  return c.ok() ? std::string() : c.error();
}

}  // namespace tandem::testing
