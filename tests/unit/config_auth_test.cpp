#include "node/auth/config_auth.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>

namespace tandem::auth {
namespace {

// Bodies as openconnect 9.01 sends them (protocol notes §2.3, §2.5, §2.7): one line each.
const std::string kCapabilities =
    "<capabilities><auth-method>single-sign-on-v2</auth-method>"
    "<auth-method>single-sign-on-external-browser</auth-method></capabilities>";

const std::string kInit =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<config-auth client=\"vpn\" type=\"init\" aggregate-auth-version=\"2\">"
    "<version who=\"vpn\">v9.01-3</version><device-id>linux-64</device-id>" +
    kCapabilities + "<group-access>https://10.200.0.1:4443/</group-access></config-auth>\n";

const std::string kInitWithGroup =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<config-auth client=\"vpn\" type=\"init\" aggregate-auth-version=\"2\">"
    "<version who=\"vpn\">v9.01-3</version><device-id>linux-64</device-id>" +
    kCapabilities +
    "<group-access>https://10.200.0.1:4443/</group-access>"
    "<group-select>sales</group-select></config-auth>\n";

const std::string kAuthReply =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<config-auth client=\"vpn\" type=\"auth-reply\" aggregate-auth-version=\"2\">"
    "<version who=\"vpn\">v9.01-3</version><device-id>linux-64</device-id>" +
    kCapabilities +
    "<opaque is-for=\"sg\"><tunnel-group>MockGroup</tunnel-group><config-hash>0</config-hash>"
    "</opaque><auth><username>testuser</username><password>testpass</password></auth>"
    "<group-select>sales</group-select></config-auth>\n";

std::string nested(std::size_t depth) {
  std::string open;
  std::string close;
  for (std::size_t i = 0; i < depth; ++i) {
    open += "<e>";
    close = "</e>" + close;
  }
  return open + close;
}

// Message with a custom <auth> body, for decoding tests.
std::string reply_with_auth(const std::string& inner) {
  return "<config-auth type=\"auth-reply\"><auth>" + inner + "</auth></config-auth>";
}

std::string parsed_password(const std::string& inner) {
  auto m = parse_client_message(reply_with_auth("<password>" + inner + "</password>"));
  EXPECT_TRUE(m.ok()) << m.error();
  return m ? m->password : "<error>";
}

std::string parse_error(std::string_view xml, XmlLimits limits = {}) {
  auto r = parse_xml(xml, limits);
  EXPECT_FALSE(r.ok()) << "accepted: " << xml;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().find('\n'), std::string::npos);
  return r.error();
}

TEST(ConfigAuthParse, OpenconnectInit) {
  auto m = parse_client_message(kInit);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->type, "init");
  EXPECT_EQ(m->version, "v9.01-3");
  EXPECT_EQ(m->device_id, "linux-64");
  EXPECT_EQ(m->group_access, "https://10.200.0.1:4443/");
  EXPECT_EQ(m->group_select, "");
  EXPECT_EQ(m->username, "");
  EXPECT_EQ(m->password, "");
  EXPECT_EQ(m->opaque_tunnel_group, "");
}

TEST(ConfigAuthParse, OpenconnectReInitWithGroupSelect) {
  auto m = parse_client_message(kInitWithGroup);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->type, "init");
  EXPECT_EQ(m->group_select, "sales");
}

TEST(ConfigAuthParse, OpenconnectAuthReply) {
  auto m = parse_client_message(kAuthReply);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->type, "auth-reply");
  EXPECT_EQ(m->username, "testuser");
  EXPECT_EQ(m->password, "testpass");
  EXPECT_EQ(m->opaque_tunnel_group, "MockGroup");
  EXPECT_EQ(m->group_select, "sales");
  EXPECT_EQ(m->version, "v9.01-3");
}

TEST(ConfigAuthParse, IndentedWithCommentsAndCrlf) {
  std::string doc =
      "\xef\xbb\xbf<?xml version='1.0'?>\r\n<!-- leading -->\r\n<?app hint?>\r\n"
      "<config-auth client=\"vpn\" type=\"logout\">\r\n"
      "  <version who=\"sg\">0.1</version>\r\n  <version who='vpn'>v9</version>\r\n"
      "  <!-- <username>not me</username> -->\r\n  <client-cert-fail/>\r\n"
      "  <auth>\r\n    <username>al<!-- x -->ice</username>\r\n  </auth>\r\n"
      "</config-auth>\r\n<!-- trailing -->\r\n";
  auto m = parse_client_message(doc);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->type, "logout");
  EXPECT_EQ(m->version, "v9");  // the client's version, not the first one
  EXPECT_EQ(m->username, "alice");
}

TEST(ConfigAuthParse, RootAndTypeAreRequired) {
  auto wrong_root = parse_client_message("<config type=\"init\"/>");
  ASSERT_FALSE(wrong_root.ok());
  EXPECT_NE(wrong_root.error().find("config-auth"), std::string::npos);
  EXPECT_FALSE(parse_client_message("<config-auth client=\"vpn\"/>").ok());
  EXPECT_FALSE(parse_client_message("<config-auth type=\"\"/>").ok());
  EXPECT_TRUE(parse_client_message("<config-auth type=\"init\"/>").ok());
}

TEST(XmlReader, BillionLaughsIsRefusedUnexpanded) {
  std::string bomb =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
      " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
      " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
      " <!ENTITY lol9 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
      "]>\n<config-auth type=\"init\"><device-id>&lol9;</device-id></config-auth>";
  auto m = parse_client_message(bomb);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("DTD/entity declarations are not allowed"), std::string::npos)
      << m.error();
  // Without the DTD the reference is simply undefined.
  EXPECT_NE(parse_error("<a>&lol9;</a>").find("undefined entity &lol9;"), std::string::npos);
  // Declarations are refused wherever they appear.
  EXPECT_NE(parse_error("<a><!ENTITY x \"y\"></a>").find("DTD"), std::string::npos);
  EXPECT_NE(parse_error("<a/><!DOCTYPE a>").find("DTD"), std::string::npos);
}

TEST(XmlReader, DepthLimit) {
  EXPECT_TRUE(parse_xml(nested(16)).ok());
  std::string why = parse_error(nested(17));
  EXPECT_NE(why.find("max_depth (16)"), std::string::npos) << why;
  EXPECT_FALSE(parse_xml("<a><b><c/></b></a>", XmlLimits{.max_depth = 2}).ok());
  EXPECT_TRUE(parse_xml("<a><b/></a>", XmlLimits{.max_depth = 2}).ok());
  // Parsing does not recurse: 60000 open tags under generous limits fail without a stack overflow.
  std::string open;
  for (int i = 0; i < 60000; ++i) open += "<e>";
  XmlLimits big{.max_bytes = 1 << 20, .max_depth = 100000, .max_elements = 100000};
  EXPECT_NE(parse_error(open, big).find("ends inside <e>"), std::string::npos);
}

TEST(XmlReader, SizeLimit) {
  std::string doc = "<a>" + std::string(100, 'x') + "</a>";
  EXPECT_TRUE(parse_xml(doc, XmlLimits{.max_bytes = doc.size()}).ok());
  std::string why = parse_error(doc, XmlLimits{.max_bytes = doc.size() - 1});
  EXPECT_NE(why.find("max_bytes"), std::string::npos) << why;
  std::string huge = "<config-auth type=\"init\">" + std::string(70000, ' ') + "</config-auth>";
  EXPECT_NE(parse_client_message(huge).error().find("max_bytes (65536)"), std::string::npos);
}

TEST(XmlReader, ElementCountLimit) {
  std::string doc = "<a>";
  for (int i = 0; i < 511; ++i) doc += "<b/>";
  EXPECT_TRUE(parse_xml(doc + "</a>").ok());
  std::string why = parse_error(doc + "<b/></a>");
  EXPECT_NE(why.find("max_elements (512)"), std::string::npos) << why;
}

TEST(XmlReader, UnbalancedTagsAreRefused) {
  EXPECT_NE(parse_error("<a><b></a></b>").find("</a> does not match <b>"), std::string::npos);
  EXPECT_NE(parse_error("<a><b></b>").find("ends inside <a>"), std::string::npos);
  parse_error("</a>");
  parse_error("<a></a></a>");
  parse_error("<a/><b/>");
  parse_error("<a></A>");
  parse_error("");
  parse_error("just text");
  parse_error("<a>text</a>trailing");
}

TEST(XmlReader, EveryTruncationIsAnError) {
  std::string doc = kAuthReply.substr(0, kAuthReply.size() - 1);  // no trailing newline
  ASSERT_TRUE(parse_xml(doc).ok());
  for (std::size_t n = 0; n < doc.size(); ++n) {
    EXPECT_FALSE(parse_xml(doc.substr(0, n)).ok()) << "prefix of " << n << " bytes accepted";
  }
}

TEST(XmlReader, RandomCorruptionNeverCrashes) {
  std::mt19937 rng(12345);
  const std::string alphabet = "<>/&;#x=\"' !-?[]abc\r\n\x01\xc3";
  for (int round = 0; round < 3000; ++round) {
    std::string doc = kAuthReply;
    for (int k = 0; k < 3; ++k) {
      doc[rng() % doc.size()] = alphabet[rng() % alphabet.size()];
    }
    auto r = parse_client_message(doc);  // only must not crash or hang
    EXPECT_TRUE(r.ok() || !r.error().empty());
  }
}

TEST(XmlReader, EntityAndCharacterReferenceDecoding) {
  EXPECT_EQ(parsed_password("&lt;&gt;&amp;&quot;&apos;"), "<>&\"'");
  EXPECT_EQ(parsed_password("&amp;lt;"), "&lt;");  // decoded once, not recursively
}

TEST(XmlReader, CharacterReferencesBecomeUtf8) {
  EXPECT_EQ(parsed_password("&#65;&#x42;&#x63;"), "ABc");
  EXPECT_EQ(parsed_password("&#233;"), "\xc3\xa9");
  EXPECT_EQ(parsed_password("&#x20AC;"), "\xe2\x82\xac");
  EXPECT_EQ(parsed_password("&#x1F600;"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(parsed_password("&#x7F;&#x80;&#x7FF;&#x800;"), "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80");
  EXPECT_EQ(parsed_password("&#xFFFD;&#x10000;&#x10FFFF;"),
            "\xef\xbf\xbd\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
  EXPECT_EQ(parsed_password("&#x0000000A;&#9;&#13;"), "\n\t\r");
  EXPECT_EQ(parsed_password("caf\xc3\xa9"), "caf\xc3\xa9");  // raw UTF-8 passes through
}

TEST(XmlReader, InvalidReferencesAreRefused) {
  for (std::string bad :
       {"&#0;", "&#xD800;", "&#x110000;", "&#;", "&#x;", "&#12a;", "&#xFFFE;", "&#1;",
        "&#99999999999;", "&foo;", "& amp;", "a & b", "&amp", "&#-1;", "&#X41;"}) {
    auto r = parse_client_message(reply_with_auth("<password>" + bad + "</password>"));
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(XmlReader, CdataIsTakenVerbatim) {
  EXPECT_EQ(parsed_password("<![CDATA[p<&>]]]]>"), "p<&>]]");
  EXPECT_EQ(parsed_password("a<![CDATA[&amp;]]>b"), "a&amp;b");
  parse_error("<a><![CDATA[never closed</a>");
}

TEST(XmlReader, AttributesWithEitherQuote) {
  auto r = parse_xml("<a one=\"1\" two='2 \"q\"' three = \"&lt;&#x41;\" four='x&apos;y'/>");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->attribute("one"), "1");
  EXPECT_EQ(r->attribute("two"), "2 \"q\"");
  EXPECT_EQ(r->attribute("three"), "<A");
  EXPECT_EQ(r->attribute("four"), "x'y");
  EXPECT_FALSE(r->attribute("five").has_value());
  ASSERT_EQ(r->attributes.size(), 4u);
  EXPECT_EQ(r->attributes[3].first, "four");
}

TEST(XmlReader, MalformedAttributesAreRefused) {
  EXPECT_NE(parse_error("<a x=\"1\" x=\"2\"/>").find("duplicate"), std::string::npos);
  parse_error("<a x=1/>");
  parse_error("<a x/>");
  parse_error("<a x=\"1\"y=\"2\"/>");
  parse_error("<a x=\"<\"/>");
  parse_error("<a x=\"1/>");
  parse_error("<a x=\"&bogus;\"/>");
}

// One start tag with `count` attributes named with a long common prefix (so that every name
// comparison reads far), optionally ending with a repeat of the first.
std::string many_attributes(std::size_t count, bool duplicate_last) {
  const std::string prefix(24, 'p');
  std::string xml = "<a";
  for (std::size_t i = 0; i < count; ++i) xml += " " + prefix + std::to_string(i) + "=''";
  if (duplicate_last) xml += " " + prefix + "0=''";
  return xml + "/>";
}

TEST(XmlReader, ManyAttributesParseInLinearithmicTime) {
  // As many as the default max_bytes allows: accepted, and a duplicate among them is found.
  const std::size_t fit = XmlLimits{}.max_bytes / 32;
  auto r = parse_xml(many_attributes(fit, false));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->attributes.size(), fit);
  EXPECT_NE(parse_error(many_attributes(fit, true)).find("duplicate attribute pppp"),
            std::string::npos);

  // 100k attributes (under raised limits; the defaults stay): the old check of each attribute
  // against all earlier ones made ~5e9 name comparisons and took about 20 s per document on the
  // 2-core build machine; sorted, it is ~1.7e6 comparisons and a fraction of a second.
  XmlLimits big;
  big.max_bytes = 8 * 1024 * 1024;
  const std::string doc = many_attributes(100'000, true);
  ASSERT_LT(doc.size(), big.max_bytes);
  const auto t0 = std::chrono::steady_clock::now();
  auto dup = parse_xml(doc, big);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().find("duplicate attribute"), std::string::npos) << dup.error();
  EXPECT_LT(took, std::chrono::seconds(5));
  auto fine = parse_xml(many_attributes(100'000, false), big);
  ASSERT_TRUE(fine.ok()) << fine.error();
  EXPECT_EQ(fine->attributes.size(), 100'000u);
  EXPECT_EQ(fine->attributes.back().first, std::string(24, 'p') + "99999");  // document order
}

TEST(XmlReader, WhitespaceNormalisation) {
  auto r = parse_xml("<a t=\"x\ty\r\nz\" n=\"&#10;\">l1\r\nl2\rl3</a>");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->attribute("t"), "x y z");
  EXPECT_EQ(r->attribute("n"), "\n");  // references escape normalisation
  EXPECT_EQ(r->text, "l1\nl2\nl3");
}

TEST(XmlReader, MisplacedDeclarationsAndControlsAreRefused) {
  EXPECT_NE(parse_error(" <?xml version=\"1.0\"?><a/>").find("XML declaration"), std::string::npos);
  parse_error("<a><?xml version=\"1.0\"?></a>");
  parse_error("<?xml version=\"1.0\"");
  parse_error("<a><!-- never closed </a>");
  parse_error("<a>\x01</a>");
  parse_error("<a><!FOO></a>");
  parse_error("<1a/>");
  EXPECT_TRUE(parse_xml("<?xml-stylesheet href='x'?><a><?pi data?></a>").ok());
}

TEST(XmlReader, ErrorsSayWhere) {
  EXPECT_NE(parse_error("<a>&nope;</a>").find("at byte "), std::string::npos);
}

TEST(XmlReader, TreeShape) {
  auto r = parse_xml("<r><x>1</x><y/><x>2</x></r>");
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->children.size(), 3u);
  EXPECT_EQ(r->child("x")->text, "1");
  EXPECT_EQ(r->children[2].text, "2");
  EXPECT_TRUE(r->child("y")->children.empty());
  EXPECT_EQ(r->child("z"), nullptr);
}

TEST(XmlEscape, EscapesAndDropsWhatXmlCannotCarry) {
  EXPECT_EQ(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(xml_escape("x\x01y\tz\n\r"), "xy\tz\n&#13;");
  EXPECT_EQ(xml_escape("caf\xc3\xa9"), "caf\xc3\xa9");
}

TEST(XmlEscape, RoundTripsThroughTheReader) {
  std::mt19937 rng(7);
  for (int round = 0; round < 500; ++round) {
    std::string s;
    std::size_t n = rng() % 40;
    for (std::size_t i = 0; i < n; ++i) s += char(0x09 + rng() % (0x7f - 0x09));
    std::string expect;
    for (char c : s) {
      if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') expect += c;
    }
    EXPECT_EQ(parsed_password(xml_escape(s)), expect);
  }
}

TEST(BuildLoginForm, SingleGroupHasNoSelect) {
  LoginForm form;
  form.groups = {"MockGroup"};
  std::string xml = build_login_form(form);
  EXPECT_TRUE(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
  auto doc = parse_xml(xml);
  ASSERT_TRUE(doc.ok()) << doc.error() << "\n" << xml;
  EXPECT_EQ(doc->name, "config-auth");
  EXPECT_EQ(doc->attribute("client"), "vpn");
  EXPECT_EQ(doc->attribute("type"), "auth-request");
  EXPECT_EQ(doc->attribute("aggregate-auth-version"), "2");
  ASSERT_NE(doc->child("opaque"), nullptr);
  EXPECT_EQ(doc->child("opaque")->attribute("is-for"), "sg");
  EXPECT_EQ(doc->child("opaque")->child("tunnel-group")->text, "MockGroup");
  const XmlElement* auth = doc->child("auth");
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->attribute("id"), "main");
  EXPECT_EQ(auth->child("message")->text, "Please enter your username and password.");
  EXPECT_EQ(auth->child("error"), nullptr);
  const XmlElement* f = auth->child("form");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->attribute("method"), "post");
  EXPECT_EQ(f->attribute("action"), "/");
  EXPECT_EQ(f->child("select"), nullptr);
  ASSERT_EQ(f->children.size(), 2u);
  EXPECT_EQ(f->children[0].attribute("type"), "text");
  EXPECT_EQ(f->children[0].attribute("name"), "username");
  EXPECT_EQ(f->children[0].attribute("label"), "Username:");
  EXPECT_EQ(f->children[1].attribute("type"), "password");
  EXPECT_EQ(f->children[1].attribute("name"), "password");
  EXPECT_EQ(f->children[1].attribute("label"), "Password:");
}

TEST(BuildLoginForm, GroupsAndErrorRoundTrip) {
  LoginForm form;
  form.error = "Login failed.";
  form.groups = {"engineering", "sales", "R&D <\"lab\">"};
  form.selected_group = "sales";
  auto doc = parse_xml(build_login_form(form));
  ASSERT_TRUE(doc.ok()) << doc.error();
  const XmlElement* auth = doc->child("auth");
  EXPECT_EQ(auth->child("error")->text, "Login failed.");
  const XmlElement& select = auth->child("form")->children.at(0);  // before the credentials
  EXPECT_EQ(select.name, "select");
  EXPECT_EQ(select.attribute("name"), "group_list");
  EXPECT_EQ(select.attribute("label"), "GROUP:");
  ASSERT_EQ(select.children.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(select.children[i].name, "option");
    EXPECT_EQ(select.children[i].attribute("value"), form.groups[i]);
    EXPECT_EQ(select.children[i].text, form.groups[i]);
    EXPECT_EQ(select.children[i].attribute("selected").has_value(), i == 1);
  }
  EXPECT_EQ(select.children[1].attribute("selected"), "true");
  EXPECT_EQ(auth->child("form")->children.size(), 3u);
  // The opaque block echoes the selected group, as the client will send it back.
  auto msg = parse_client_message(build_login_form(form));
  ASSERT_TRUE(msg.ok()) << msg.error();
  EXPECT_EQ(msg->type, "auth-request");
  EXPECT_EQ(msg->opaque_tunnel_group, "sales");
}

TEST(BuildLoginForm, TextIsEscaped) {
  LoginForm form;
  form.message = "Enter <user> & \"pass\"\nnow";
  form.error = "it's </auth> bad";
  form.groups = {"R&D"};
  std::string xml = build_login_form(form);
  EXPECT_EQ(xml.find("<user>"), std::string::npos);
  auto doc = parse_xml(xml);
  ASSERT_TRUE(doc.ok()) << doc.error();
  EXPECT_EQ(doc->child("auth")->child("message")->text, form.message);
  EXPECT_EQ(doc->child("auth")->child("error")->text, form.error);
  EXPECT_EQ(doc->child("opaque")->child("tunnel-group")->text, "R&D");
}

TEST(BuildLoginSuccess, CarriesTokenAndBanner) {
  const std::string token = "9XNabrS/KqpxR4zeqYiedFwtFSsQvR3MbxzjUNXhy6Q=";
  auto doc = parse_xml(build_login_success(token, "Welcome <b>&\nbye"));
  ASSERT_TRUE(doc.ok()) << doc.error();
  EXPECT_EQ(doc->attribute("type"), "complete");
  EXPECT_EQ(doc->attribute("client"), "vpn");
  EXPECT_EQ(doc->child("session-token")->text, token);
  const XmlElement* auth = doc->child("auth");
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->attribute("id"), "success");
  EXPECT_FALSE(auth->child("message")->text.empty());
  EXPECT_EQ(auth->child("banner")->text, "Welcome <b>&\nbye");
  auto msg = parse_client_message(build_login_success(token, ""));
  ASSERT_TRUE(msg.ok()) << msg.error();
  EXPECT_EQ(msg->type, "complete");
}

TEST(BuildLoginSuccess, NoBannerElementWhenEmpty) {
  auto doc = parse_xml(build_login_success("tok", ""));
  ASSERT_TRUE(doc.ok()) << doc.error();
  EXPECT_EQ(doc->child("auth")->child("banner"), nullptr);
}

}  // namespace
}  // namespace tandem::auth
