// SPDX-License-Identifier: GPL-2.0-or-later
#include "net/smtp_address.h"

#include <string>

#include "gtest/gtest.h"

namespace kensa::net {
namespace {

SmtpPath MustParse(std::string_view arg, bool allow_null = true, bool utf8 = false) {
  absl::StatusOr<SmtpPath> p = ParseSmtpPath(arg, allow_null, utf8);
  EXPECT_TRUE(p.ok()) << arg << ": " << p.status();
  return p.ok() ? *p : SmtpPath{};
}

bool Fails(std::string_view arg, bool allow_null = true, bool utf8 = false) {
  absl::StatusOr<SmtpPath> p = ParseSmtpPath(arg, allow_null, utf8);
  if (p.ok()) return false;
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(p.status().message().empty());
  return true;
}

TEST(SmtpAddressTest, PlainPathAndParams) {
  SmtpPath p = MustParse("<user@example.org>");
  EXPECT_EQ(p.address, "user@example.org");
  EXPECT_EQ(p.params, "");
  p = MustParse("   <a.b+c@mail.example.org>   SIZE=100 BODY=8BITMIME  ");
  EXPECT_EQ(p.address, "a.b+c@mail.example.org");
  EXPECT_EQ(p.params, "SIZE=100 BODY=8BITMIME");
  p = MustParse("<x@y>\tRET=HDRS");
  EXPECT_EQ(p.params, "RET=HDRS");
}

TEST(SmtpAddressTest, NullPath) {
  SmtpPath p = MustParse("<>", /*allow_null=*/true);
  EXPECT_EQ(p.address, "");
  p = MustParse("<> SIZE=5", true);
  EXPECT_EQ(p.params, "SIZE=5");
  EXPECT_TRUE(Fails("<>", /*allow_null=*/false));
}

TEST(SmtpAddressTest, SourceRouteDropped) {
  EXPECT_EQ(MustParse("<@relay1.example,@relay2.example:user@example.org>").address,
            "user@example.org");
  EXPECT_EQ(MustParse("<@relay.example:user@example.org>").address, "user@example.org");
  EXPECT_TRUE(Fails("<@relay.example user@example.org>"));
  EXPECT_TRUE(Fails("<@:user@example.org>"));
  EXPECT_TRUE(Fails("<@relay,:user@example.org>"));
}

TEST(SmtpAddressTest, QuotedLocalPartKeptQuoted) {
  EXPECT_EQ(MustParse("<\"john doe\"@example.org>").address, "\"john doe\"@example.org");
  EXPECT_EQ(MustParse("<\"a>b@c\\\"d\"@example.org>").address, "\"a>b@c\\\"d\"@example.org");
  EXPECT_TRUE(Fails("<\"unterminated@example.org>"));
  EXPECT_TRUE(Fails("<\"a\"b@example.org>"));
}

TEST(SmtpAddressTest, Postmaster) {
  EXPECT_EQ(MustParse("<Postmaster>", false).address, "Postmaster");
  EXPECT_EQ(MustParse("<postmaster>", false).address, "postmaster");
  EXPECT_TRUE(Fails("<user>", false));
}

TEST(SmtpAddressTest, Malformed) {
  EXPECT_TRUE(Fails(""));
  EXPECT_TRUE(Fails("user@example.org"));  // brackets are required
  EXPECT_TRUE(Fails("<user@example.org"));
  EXPECT_TRUE(Fails("<user@example.org>SIZE=1"));
  EXPECT_TRUE(Fails("<@example.org>"));
  EXPECT_TRUE(Fails("<user@>"));
  EXPECT_TRUE(Fails("<user@@example.org>"));
  EXPECT_TRUE(Fails("<us er@example.org>"));
  EXPECT_TRUE(Fails("<user.@example.org>"));
  EXPECT_TRUE(Fails("<.user@example.org>"));
  EXPECT_TRUE(Fails("<us..er@example.org>"));
  EXPECT_TRUE(Fails("<user@example..org>"));
  EXPECT_TRUE(Fails("<user@example.org.>"));
  EXPECT_TRUE(Fails("<user@-example.org>"));
  EXPECT_TRUE(Fails("<user@example-.org>"));
  EXPECT_TRUE(Fails("<user@exa mple.org>"));
  EXPECT_TRUE(Fails("<user@[]>"));
  EXPECT_TRUE(Fails("<user@[1.2.3.4>"));
  EXPECT_TRUE(Fails(std::string("<us\0er@example.org>", 19)));
  EXPECT_TRUE(Fails("<user@" + std::string(300, 'a') + ">"));
}

TEST(SmtpAddressTest, DomainForms) {
  EXPECT_EQ(MustParse("<u@[192.0.2.1]>").address, "u@[192.0.2.1]");
  EXPECT_EQ(MustParse("<u@[IPv6:2001:db8::1]>").address, "u@[IPv6:2001:db8::1]");
  EXPECT_EQ(MustParse("<u@host_name.example>").address, "u@host_name.example");
  EXPECT_EQ(MustParse("<u@x-1.example>").address, "u@x-1.example");
  EXPECT_EQ(MustParse("<u@localhost>").address, "u@localhost");
}

TEST(SmtpAddressTest, Utf8OnlyWhenAllowed) {
  const std::string a = "<j\xc3\xb6rg@b\xc3\xbc" "cher.example>";
  EXPECT_TRUE(Fails(a, true, /*utf8=*/false));
  EXPECT_EQ(MustParse(a, true, /*utf8=*/true).address, "j\xc3\xb6rg@b\xc3\xbc" "cher.example");
  EXPECT_EQ(MustParse("<\"\xe6\x97\xa5\xe6\x9c\xac\"@example.org>", true, true).address,
            "\"\xe6\x97\xa5\xe6\x9c\xac\"@example.org");
  // Malformed UTF-8 is refused even with SMTPUTF8.
  EXPECT_TRUE(Fails("<j\xc3rg@example.org>", true, true));
  EXPECT_TRUE(Fails("<j\xff@example.org>", true, true));
  EXPECT_TRUE(Fails("<\xc0\xafx@example.org>", true, true));          // overlong
  EXPECT_TRUE(Fails("<\xed\xa0\x80x@example.org>", true, true));      // surrogate
  EXPECT_TRUE(Fails("<\xf4\x90\x80\x80x@example.org>", true, true));  // > U+10FFFF
}

TEST(SmtpAddressTest, DomainOf) {
  EXPECT_EQ(DomainOf("user@example.org"), "example.org");
  EXPECT_EQ(DomainOf("\"a@b\"@example.org"), "example.org");
  EXPECT_EQ(DomainOf("\"a@b\""), "");
  EXPECT_EQ(DomainOf("postmaster"), "");
  EXPECT_EQ(DomainOf(""), "");
  EXPECT_EQ(DomainOf("u@[192.0.2.1]"), "[192.0.2.1]");
}

}  // namespace
}  // namespace kensa::net
