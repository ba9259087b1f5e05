#include <gtest/gtest.h>

#include "node/admin/ctl_args.hpp"

namespace tandem::admin {
namespace {

TEST(CtlArgs, IndexIsAPositiveDecimalNumber) {
  EXPECT_EQ(parse_index("1"), 1u);
  EXPECT_EQ(parse_index("18446744073709551615"), UINT64_MAX);
  for (const char* bad :
       {"", "0", "-1", "+2", " 3", "3 ", "3x", "0x10", "1e3", "18446744073709551616"}) {
    EXPECT_FALSE(parse_index(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(CtlArgs, ShowFiltersCombine) {
  auto sel = parse_selection({"--user", "alice", "--protocol=dtls", "--index", "7",
                              "--tunnel-group", "eng", "--inactive", "--detail", "--json"},
                             SelectionFor::show);
  ASSERT_TRUE(sel.ok()) << sel.error();
  EXPECT_EQ(sel->filter.user(), "alice");
  EXPECT_EQ(sel->filter.protocol(), "dtls");
  EXPECT_EQ(sel->filter.index(), 7u);
  EXPECT_EQ(sel->filter.tunnel_group(), "eng");
  EXPECT_TRUE(sel->filter.inactive());
  EXPECT_TRUE(sel->filtered);
  EXPECT_TRUE(sel->detail);
  EXPECT_TRUE(sel->json);
}

TEST(CtlArgs, ShowWithoutFiltersIsEverySession) {
  auto sel = parse_selection({}, SelectionFor::show);
  ASSERT_TRUE(sel.ok()) << sel.error();
  EXPECT_FALSE(sel->filtered);
  EXPECT_EQ(sel->filter.ByteSizeLong(), 0u);
}

TEST(CtlArgs, BadValuesAreUsageErrorsNamingTheCommand) {
  struct Case {
    CtlArgs args;
    SelectionFor command;
    const char* error;
  };
  const Case cases[] = {
      {{"--index", "abc"},
       SelectionFor::show,
       "show sessions: --index takes a session index (1, 2, ...), not 'abc'"},
      {{"--index=0"},
       SelectionFor::logoff,
       "logoff: --index takes a session index (1, 2, ...), not '0'"},
      {{"--protocol", "tcp"}, SelectionFor::logoff, "logoff: --protocol is ssl or dtls, not 'tcp'"},
      {{"--user", ""}, SelectionFor::show, "show sessions: --user is empty"},
      {{"--user"}, SelectionFor::show, "show sessions: --user needs a value"},
      {{"--all"}, SelectionFor::show, "show sessions: unknown argument '--all'"},
      {{"--detail", "--all"}, SelectionFor::logoff, "logoff: unknown argument '--detail'"},
      {{"alice"}, SelectionFor::logoff, "logoff: unknown argument 'alice'"},
  };
  for (const auto& c : cases) {
    auto sel = parse_selection(c.args, c.command);
    ASSERT_FALSE(sel.ok()) << c.error;
    EXPECT_EQ(sel.error(), c.error);
  }
}

TEST(CtlArgs, LogoffNamesItsSessionsOrSaysAll) {
  auto none = parse_selection({"--json"}, SelectionFor::logoff);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("logoff: name the sessions"), std::string::npos) << none.error();

  auto both = parse_selection({"--all", "--user", "bob"}, SelectionFor::logoff);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error(), "logoff: --all cannot be combined with a filter");

  auto all = parse_selection({"--all"}, SelectionFor::logoff);
  ASSERT_TRUE(all.ok()) << all.error();
  EXPECT_TRUE(all->all);
  EXPECT_FALSE(all->filtered);

  auto inactive = parse_selection({"--inactive"}, SelectionFor::logoff);
  ASSERT_TRUE(inactive.ok()) << inactive.error();
  EXPECT_TRUE(inactive->filter.inactive());
}

TEST(CtlArgs, HelpStopsParsing) {
  auto sel = parse_selection({"--help", "--index", "abc"}, SelectionFor::logoff);
  ASSERT_TRUE(sel.ok()) << sel.error();
  EXPECT_TRUE(sel->help);
}

}  // namespace
}  // namespace tandem::admin
