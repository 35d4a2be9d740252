// Long-poll transport end to end, with Phoenix's request/response rules
// (protocol.md 1.8).

#include <boost/test/unit_test.hpp>

#include <thread>

#include <boost/json.hpp>

#include "fixture.hpp"
#include "raw_client.hpp"
#include "transport/detail/crypto.hpp"

using namespace fenix::test;
namespace json = boost::json;

namespace {

struct lp_reply {
  int status = 0; // the logical status in the body
  std::string token;
  std::vector<std::string> messages;
  http_reply http;
};

std::optional<lp_reply> lp_call(uint16_t port, std::string_view method,
                                std::string_view target,
                                const std::vector<std::string>& headers = {},
                                std::string_view body = {},
                                std::chrono::milliseconds timeout = 5s) {
  auto rep = http_call(port, method, target, headers, body, timeout);
  if (!rep)
    return std::nullopt;
  lp_reply out;
  out.http = *rep;
  if (rep->status != 200 || rep->body.empty())
    return out;
  auto v = json::parse(rep->body).as_object();
  out.status = static_cast<int>(v.at("status").as_int64());
  if (auto t = v.if_contains("token"))
    out.token = std::string{t->as_string()};
  if (auto m = v.if_contains("messages"))
    for (auto& x : m->as_array())
      out.messages.emplace_back(x.as_string());
  return out;
}

const std::vector<std::string> ndjson{"Content-Type: application/x-ndjson"};

} // namespace

struct longpoll_fixture : endpoint_fixture {
  void start_lp(std::chrono::milliseconds window = 300ms,
                std::optional<std::chrono::milliseconds> expiry = {}) {
    socket_options opts;
    opts.websocket = true;
    opts.longpoll.enabled = true;
    opts.longpoll.window = window;
    opts.longpoll.session_timeout = expiry;
    start(opts);
  }

  lp_reply handshake(const std::string& query = "vsn=2.0.0") {
    auto r = lp_call(port(), "GET", "/socket/longpoll?" + query);
    BOOST_REQUIRE(r);
    BOOST_REQUIRE_EQUAL(r->http.status, 200);
    return *r;
  }
};

BOOST_FIXTURE_TEST_SUITE(longpoll, longpoll_fixture)

BOOST_AUTO_TEST_CASE(handshake_post_poll) {
  start_lp();
  auto hs = handshake();
  BOOST_TEST(hs.status == 410);
  BOOST_TEST(!hs.token.empty());
  BOOST_TEST(hs.messages.empty());
  BOOST_REQUIRE(hs.http.header("content-type"));
  BOOST_TEST(*hs.http.header("content-type")
             == "application/json; charset=utf-8");
  BOOST_TEST(*hs.http.header("cache-control") == "no-store");
  BOOST_TEST(*hs.http.header("access-control-allow-origin") == "*");
  // A batch of two V2-looking text lines (the test handler echoes them).
  auto tq = "/socket/longpoll?vsn=2.0.0&token=" + hs.token;
  auto post = lp_call(port(), "POST", tq, ndjson, "[\"a\"]\n[\"b\"]");
  BOOST_REQUIRE(post);
  BOOST_TEST(post->status == 200);
  auto poll = lp_call(port(), "GET", tq);
  BOOST_REQUIRE(poll);
  BOOST_TEST(poll->status == 200);
  BOOST_TEST(poll->token == hs.token);
  BOOST_REQUIRE_EQUAL(poll->messages.size(), 2u);
  BOOST_TEST(poll->messages[0] == "[\"a\"]");
  BOOST_TEST(poll->messages[1] == "[\"b\"]");
  // Nothing buffered: the GET is held for the window, then 204.
  auto t0 = std::chrono::steady_clock::now();
  poll = lp_call(port(), "GET", tq);
  BOOST_REQUIRE(poll);
  BOOST_TEST(poll->status == 204);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 250ms));
  BOOST_TEST(ep->stats().longpoll_sessions == 1u);
}

BOOST_AUTO_TEST_CASE(held_poll_returns_as_soon_as_a_message_arrives) {
  start_lp(5s);
  auto hs = handshake();
  auto tq = "/socket/longpoll?vsn=2.0.0&token=" + hs.token;
  raw_client poller;
  BOOST_REQUIRE(poller.connect(port()));
  // The token may also come in a header (phoenix.js main / 1.9).
  BOOST_REQUIRE(poller.send_request(
    "GET", "/socket/longpoll?vsn=2.0.0",
    {"X-Phoenix-LongPoll-Token: " + hs.token}));
  auto t0 = std::chrono::steady_clock::now();
  auto post = lp_call(port(), "POST", tq, {}, "[null,\"1\",\"t\",\"e\",{}]");
  BOOST_REQUIRE(post);
  BOOST_TEST(post->status == 200);
  auto rep = poller.read_http(5s);
  BOOST_REQUIRE(rep);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 2s));
  auto v = json::parse(rep->body).as_object();
  BOOST_TEST(v.at("status").as_int64() == 200);
  BOOST_REQUIRE_EQUAL(v.at("messages").as_array().size(), 1u);
  BOOST_TEST(v.at("messages").as_array()[0].as_string()
             == "[null,\"1\",\"t\",\"e\",{}]");
}

BOOST_AUTO_TEST_CASE(refused_bad_token_options_and_methods) {
  start_lp();
  auto r = lp_call(port(), "GET", "/socket/longpoll?reject=1");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->http.status == 200);
  BOOST_TEST(r->status == 403);
  r = lp_call(port(), "POST", "/socket/longpoll?token=forged.token", ndjson,
              "[1]");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 410);
  // A GET with a bad token is a new handshake.
  r = lp_call(port(), "GET", "/socket/longpoll?token=forged.token");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 410);
  BOOST_TEST(!r->token.empty());
  auto pre = http_call(port(), "OPTIONS", "/socket/longpoll",
                       {"Access-Control-Request-Headers: x-phoenix-authtoken"});
  BOOST_REQUIRE(pre);
  BOOST_TEST(pre->status == 200);
  BOOST_TEST(*pre->header("access-control-allow-methods")
             == "get, post, options");
  BOOST_TEST(*pre->header("access-control-allow-headers")
             == "x-phoenix-authtoken");
  BOOST_TEST(*pre->header("access-control-max-age") == "3600");
  auto put = http_call(port(), "PUT", "/socket/longpoll");
  BOOST_REQUIRE(put);
  BOOST_TEST(put->status == 400);
}

BOOST_AUTO_TEST_CASE(binary_lines_and_the_100_line_limit) {
  start_lp(5s); // the POST waits until the actor took all lines
  auto hs = handshake();
  auto tq = "/socket/longpoll?token=" + hs.token;
  std::string body = fenix::transport::detail::base64_encode("\x01\x02\x03");
  for (int i = 0; i < 150; ++i)
    body += "\n[" + std::to_string(i) + "]";
  auto post = lp_call(port(), "POST", tq, ndjson, body);
  BOOST_REQUIRE(post);
  BOOST_TEST(post->status == 200);
  auto poll = lp_call(port(), "GET", tq);
  BOOST_REQUIRE(poll);
  BOOST_REQUIRE_EQUAL(poll->messages.size(), 100u);
  // Server binary frames cannot travel over long-poll.
  BOOST_TEST(poll->messages[0] == "binary-dropped:3");
  BOOST_TEST(poll->messages[99] == "[98]");
}

BOOST_AUTO_TEST_CASE(auth_token_header_and_tree) {
  start_lp();
  auto hs = lp_call(port(), "GET", "/socket/longpoll?vsn=2.0.0",
                    {"X-Phoenix-AuthToken: tok-123"});
  BOOST_REQUIRE(hs);
  BOOST_TEST(hs->status == 410);
  {
    std::lock_guard<std::mutex> guard{ev->mtx};
    BOOST_REQUIRE_EQUAL(ev->tokens.size(), 1u);
    BOOST_TEST(ev->tokens[0] == "tok-123");
  }
  BOOST_TEST(wait_until([&] {
    for (auto& root : sys->tree().snapshot())
      if (auto c = root.find(std::string{"connections"}))
        for (auto& child : c->children)
          if (auto t = child.details.if_contains("transport");
              t && t->as_string() == "longpoll")
            return true;
    return false;
  }));
}

BOOST_AUTO_TEST_CASE(inactive_session_expires) {
  start_lp(200ms, 400ms);
  auto hs = handshake();
  BOOST_REQUIRE(ev->wait_opened(1));
  // No GET: after the session timeout the handler is told.
  BOOST_REQUIRE(ev->wait_closes(1, 5s));
  BOOST_TEST(ev->closes[0].reason == "session inactive");
  BOOST_TEST((ev->closes[0].by == closed_by::network));
  BOOST_TEST(wait_until([&] { return ep->stats().longpoll_sessions == 0; }));
  auto tq = "/socket/longpoll?token=" + hs.token;
  auto post = lp_call(port(), "POST", tq, ndjson, "[1]");
  BOOST_REQUIRE(post);
  BOOST_TEST(post->status == 410);
  auto again = lp_call(port(), "GET", tq);
  BOOST_REQUIRE(again);
  BOOST_TEST(again->status == 410);
  BOOST_TEST(again->token != hs.token);
}

BOOST_AUTO_TEST_CASE(polling_keeps_a_session_alive) {
  start_lp(200ms, 400ms);
  auto hs = handshake();
  auto tq = "/socket/longpoll?token=" + hs.token;
  auto t0 = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - t0 < 1200ms) {
    auto poll = lp_call(port(), "GET", tq);
    BOOST_REQUIRE(poll);
    BOOST_REQUIRE_EQUAL(poll->status, 204);
  }
  std::lock_guard<std::mutex> guard{ev->mtx};
  BOOST_TEST(ev->closes.empty());
}

BOOST_AUTO_TEST_CASE(drain_answers_a_held_poll) {
  start_lp(10s);
  auto hs = handshake();
  raw_client poller;
  BOOST_REQUIRE(poller.connect(port()));
  BOOST_REQUIRE(poller.send_request("GET", "/socket/longpoll?token=" + hs.token));
  // Requests are counted once routed: then the GET is held.
  BOOST_REQUIRE(wait_until([&] { return ep->stats().http_requests == 2; }));
  ep->stop();
  auto rep = poller.read_http(5s);
  BOOST_REQUIRE(rep);
  auto v = json::parse(rep->body).as_object();
  BOOST_TEST(v.at("status").as_int64() == 410);
  BOOST_REQUIRE(ev->wait_closes(1));
  BOOST_TEST(ev->closes[0].code == 1012);
}

BOOST_AUTO_TEST_SUITE_END()
