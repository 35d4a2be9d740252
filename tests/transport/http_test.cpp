// Plain HTTP on an endpoint: static files and extra routes (synchronous
// and answered later by an actor).

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "fixture.hpp"
#include "raw_client.hpp"

using namespace fenix::test;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;

  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "fenix-static-XXXXXX").string();
    if (!::mkdtemp(tmpl.data()))
      throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }

  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }

  void write(const std::string& rel, const std::string& content) {
    auto p = path / rel;
    fs::create_directories(p.parent_path());
    std::ofstream out{p, std::ios::binary};
    out << content;
  }
};

using answer_atom = caf::atom_constant<caf::atom("answer")>;
using responder_ptr = std::shared_ptr<fenix::transport::http_responder>;

} // namespace

// Responders travel in local messages only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(responder_ptr)

BOOST_FIXTURE_TEST_SUITE(http, endpoint_fixture)

BOOST_AUTO_TEST_CASE(static_files) {
  temp_dir www;
  www.write("index.html", "<h1>fenix</h1>");
  www.write("app.js", "console.log(1)");
  www.write("css/site.css", "body{}");
  // A file outside the root that traversal attempts aim for.
  auto secret = www.path.parent_path() / (www.path.filename().string() + ".secret");
  std::ofstream{secret} << "secret";
  auto c = config();
  c.static_dir = www.path.string();
  start(std::move(c));
  auto r = http_call(port(), "GET", "/");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->body == "<h1>fenix</h1>");
  BOOST_TEST(*r->header("content-type") == "text/html; charset=utf-8");
  r = http_call(port(), "GET", "/app.js");
  BOOST_REQUIRE(r);
  BOOST_TEST(*r->header("content-type") == "text/javascript; charset=utf-8");
  r = http_call(port(), "GET", "/css/site.css?v=3");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->body == "body{}");
  // HEAD: headers only.
  raw_client h;
  BOOST_REQUIRE(h.connect(port()));
  BOOST_REQUIRE(h.send_request("HEAD", "/app.js"));
  auto head = h.read_http(5s, true);
  BOOST_REQUIRE(head);
  BOOST_TEST(head->status == 200);
  BOOST_TEST(*head->header("content-length") == "14");
  r = http_call(port(), "GET", "/missing.html");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 404);
  auto name = "/../" + www.path.filename().string() + ".secret";
  r = http_call(port(), "GET", name);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 404);
  r = http_call(port(), "GET", "/%2e%2e/" + www.path.filename().string()
                                  + ".secret");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 404);
  r = http_call(port(), "POST", "/index.html");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 404);
  fs::remove(secret);
}

BOOST_AUTO_TEST_CASE(extra_routes_sync_async_and_forgotten) {
  // An actor that answers later, from a CAF thread.
  auto responder_actor = fenix::spawn_fn(
    sys->sys(), [](caf::event_based_actor*) -> caf::behavior {
      return {
        [](answer_atom, responder_ptr respond,
           std::string path) {
          (*respond)(http_response::json("{\"path\":\"" + path + "\"}"));
        },
      };
    });
  auto c = config();
  c.route("/_fenix/ping", [](const http_request& req, http_responder respond) {
    respond(http_response::text(200, "pong " + req.method + " " + req.query));
  });
  c.route("/_fenix", [responder_actor](const http_request& req,
                                       http_responder respond) {
    caf::anon_send(responder_actor, answer_atom::value,
                   std::make_shared<http_responder>(std::move(respond)),
                   req.path);
  });
  c.route("/forgetful", [](const http_request&, http_responder) {
    // drops the responder: the client gets a 500
  });
  start(std::move(c));
  auto r = http_call(port(), "GET", "/_fenix/ping?x=1");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->body == "pong GET x=1");
  r = http_call(port(), "GET", "/_fenix/tree");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(*r->header("content-type") == "application/json; charset=utf-8");
  BOOST_TEST(r->body == "{\"path\":\"/_fenix/tree\"}");
  r = http_call(port(), "GET", "/_fenixish");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 404);
  r = http_call(port(), "GET", "/forgetful");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 500);
  // Keep-alive: two requests on one connection.
  raw_client k;
  BOOST_REQUIRE(k.connect(port()));
  BOOST_REQUIRE(k.send_request("GET", "/_fenix/ping?a"));
  auto first = k.read_http();
  BOOST_REQUIRE(first);
  BOOST_REQUIRE(k.send_request("GET", "/_fenix/ping?b"));
  auto second = k.read_http();
  BOOST_REQUIRE(second);
  BOOST_TEST(second->body == "pong GET b");
  caf::anon_send_exit(responder_actor, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(bad_requests) {
  start();
  raw_client c;
  BOOST_REQUIRE(c.connect(port()));
  BOOST_REQUIRE(c.send_all("NOT HTTP AT ALL\r\n\r\n"));
  auto r = c.read_http();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 400);
  // Oversized header block.
  raw_client d;
  BOOST_REQUIRE(d.connect(port()));
  BOOST_REQUIRE(d.send_request("GET", "/", {"X-Big: " + std::string(20000, 'a')}));
  r = d.read_http();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->status == 431);
}

BOOST_AUTO_TEST_CASE(port_in_use_is_an_error) {
  start();
  auto c = config();
  c.port = port();
  auto second = endpoint::start(sys->sys(), std::move(c));
  BOOST_TEST(!second);
}

BOOST_AUTO_TEST_SUITE_END()
