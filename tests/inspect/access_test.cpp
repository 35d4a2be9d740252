// The access predicate of the inspection routes: which peers, which tokens.
#include <boost/test/unit_test.hpp>

#include "transport/inspect/access.hpp"

using namespace fenix::inspection;
using fenix::transport::http_request;

namespace {

http_request request(std::string peer, std::string auth = {}) {
  http_request r;
  r.method = "GET";
  r.path = "/_fenix/tree";
  r.peer_address = std::move(peer);
  if (!auth.empty())
    r.headers.emplace_back("authorization", std::move(auth));
  return r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(access_suite)

BOOST_AUTO_TEST_CASE(loopback_addresses) {
  BOOST_TEST(is_loopback("127.0.0.1"));
  BOOST_TEST(is_loopback("127.0.0.2"));
  BOOST_TEST(is_loopback("127.255.255.254"));
  BOOST_TEST(is_loopback("::1"));
  BOOST_TEST(is_loopback("::ffff:127.0.0.1"));
  BOOST_TEST(is_loopback("::FFFF:127.1.2.3"));
  BOOST_TEST(!is_loopback("128.0.0.1"));
  BOOST_TEST(!is_loopback("10.0.0.7"));
  BOOST_TEST(!is_loopback("192.168.1.127"));
  BOOST_TEST(!is_loopback("::ffff:10.0.0.1"));
  BOOST_TEST(!is_loopback("::2"));
  BOOST_TEST(!is_loopback("fe80::1"));
  BOOST_TEST(!is_loopback(""));
  BOOST_TEST(!is_loopback("127.0.0"));
  BOOST_TEST(!is_loopback("127.0.0.256"));
  BOOST_TEST(!is_loopback("127.0.0.1.5"));
  BOOST_TEST(!is_loopback("127.0.0.1x"));
  BOOST_TEST(!is_loopback("1270.0.0.1"));
}

BOOST_AUTO_TEST_CASE(bearer_header_parsing) {
  BOOST_TEST(bearer_token("Bearer abc") == "abc");
  BOOST_TEST(bearer_token("bearer   abc  ") == "abc");
  BOOST_TEST(bearer_token("BEARER abc") == "abc");
  BOOST_TEST(bearer_token("Basic YWJj").empty());
  BOOST_TEST(bearer_token("Bearer").empty());
  BOOST_TEST(bearer_token("").empty());
  BOOST_TEST(equal_secrets("s3cret", "s3cret"));
  BOOST_TEST(!equal_secrets("s3cret", "s3creT"));
  BOOST_TEST(!equal_secrets("s3cret", "s3cre"));
}

BOOST_AUTO_TEST_CASE(policy_verdicts) {
  using v = access_policy::verdict;
  access_policy p;
  p.token = "T";
  BOOST_TEST((p.check(request("127.0.0.1", "Bearer T")) == v::allow));
  BOOST_TEST((p.check(request("127.0.0.1")) == v::unauthorized));
  BOOST_TEST((p.check(request("127.0.0.1", "Bearer X")) == v::unauthorized));
  BOOST_TEST((p.check(request("127.0.0.1", "Bearer TT")) == v::unauthorized));
  BOOST_TEST((p.check(request("127.0.0.1", "T")) == v::unauthorized));
  // Non-loopback peers are refused before the token is even looked at.
  BOOST_TEST((p.check(request("10.1.2.3", "Bearer T")) == v::forbidden));
  BOOST_TEST((p.check(request("10.1.2.3")) == v::forbidden));
  // The dashboard page: peer check only.
  BOOST_TEST((p.check(request("127.0.0.1"), false) == v::allow));
  BOOST_TEST((p.check(request("10.1.2.3"), false) == v::forbidden));
  // Remote access when the application opts in.
  p.loopback_only = false;
  BOOST_TEST((p.check(request("10.1.2.3", "Bearer T")) == v::allow));
  BOOST_TEST((p.check(request("10.1.2.3")) == v::unauthorized));
  // A custom predicate replaces the loopback check.
  p.allow_peer = [](std::string_view a) { return a == "10.0.0.9"; };
  BOOST_TEST((p.check(request("10.0.0.9", "Bearer T")) == v::allow));
  BOOST_TEST((p.check(request("127.0.0.1", "Bearer T")) == v::forbidden));
  // No token configured (metrics): peer check only.
  access_policy m;
  BOOST_TEST((m.check(request("127.0.0.1")) == v::allow));
  BOOST_TEST((m.check(request("192.0.2.1")) == v::forbidden));
}

BOOST_AUTO_TEST_CASE(refusals_reveal_nothing) {
  auto r401 = access_policy::refusal(access_policy::verdict::unauthorized);
  BOOST_TEST(r401.status == 401u);
  BOOST_TEST(r401.body == "{\"error\":\"unauthorized\"}\n");
  bool has_challenge = false;
  for (auto& [k, v] : r401.headers)
    has_challenge |= k == "www-authenticate" && v.rfind("Bearer", 0) == 0;
  BOOST_TEST(has_challenge);
  auto r403 = access_policy::refusal(access_policy::verdict::forbidden);
  BOOST_TEST(r403.status == 403u);
  BOOST_TEST(r403.body == "{\"error\":\"forbidden\"}\n");
}

BOOST_AUTO_TEST_SUITE_END()
