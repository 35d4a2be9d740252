// fenixctl: looks at (and acts on) a running fenix server through its
// /_fenix inspection API.
//
//   fenixctl [--url URL] [--token T] [--timeout MS] tree [--root ID|NAME]
//            [--max-children N] [--json]
//   fenixctl ... stats [--json]
//   fenixctl ... actor <id|name>
//   fenixctl ... kill <id|name>
//
// URL and token default to $FENIX_URL / $FENIX_TOKEN, then
// http://127.0.0.1:4000 and none. Exit codes: 0 success, 1 the server said
// no (404, 5xx, bad answer), 2 usage, 3 no connection (refused, timeout),
// 4 unauthorized or forbidden (401/403).
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "apps/fenixctl/http_client.hpp"
#include "apps/fenixctl/render.hpp"

namespace json = boost::json;

namespace {

enum exit_code : int {
  ok = 0,
  server_error = 1,
  usage_error = 2,
  no_connection = 3,
  unauthorized = 4,
};

const char* usage_text =
  "usage: fenixctl [--url URL] [--token T] [--timeout MS] COMMAND\n"
  "  tree [--root ID|NAME] [--max-children N] [--json]\n"
  "                      the supervision tree (default: 10 children per\n"
  "                      node, the rest summarized; 0 shows all)\n"
  "  stats [--json]      totals and rates\n"
  "  actor ID|NAME       one actor's details (JSON)\n"
  "  kill ID|NAME        exit the actor with reason kill (its supervisor\n"
  "                      restarts it if its restart type says so)\n"
  "URL defaults to $FENIX_URL or http://127.0.0.1:4000, the token to\n"
  "$FENIX_TOKEN. Exit codes: 0 ok, 1 server error, 2 usage, 3 no\n"
  "connection, 4 unauthorized/forbidden.\n";

int usage(const std::string& why) {
  if (!why.empty())
    std::cerr << "fenixctl: " << why << "\n";
  std::cerr << usage_text;
  return usage_error;
}

std::string env_or(const char* name, std::string fallback) {
  auto v = std::getenv(name);
  return v && *v ? std::string{v} : std::move(fallback);
}

/// Percent-encodes a query value or path segment.
std::string encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct client {
  fenixctl::url u;
  std::string url_text;
  std::string token;
  std::chrono::milliseconds timeout{10000};

  /// Calls the server; on failure prints why and returns the exit code.
  int call(const std::string& method, const std::string& target,
           json::value& out) {
    auto r = fenixctl::request(u, method, target, token, timeout);
    if (!r.ok) {
      if (r.refused)
        std::cerr << "fenixctl: connection refused by " << url_text
                  << " (is the server running, with --admin-token?)\n";
      else
        std::cerr << "fenixctl: " << url_text << ": " << r.error << "\n";
      return no_connection;
    }
    if (r.status == 401) {
      std::cerr << "fenixctl: 401 unauthorized: "
                << (token.empty() ? "no token given (--token or $FENIX_TOKEN)"
                                  : "wrong token")
                << "\n";
      return unauthorized;
    }
    if (r.status == 403) {
      std::cerr << "fenixctl: 403 forbidden: the server accepts inspection "
                   "only from allowed peers (loopback by default)\n";
      return unauthorized;
    }
    boost::system::error_code ec;
    out = json::parse(r.body, ec);
    if (r.status >= 300) {
      std::string what = r.body;
      if (!ec && out.is_object())
        if (auto e = out.as_object().if_contains("error"); e && e->is_string())
          what = std::string{e->as_string()};
      std::cerr << "fenixctl: " << r.status << " " << what << " (" << method
                << " " << target << ")\n";
      return server_error;
    }
    if (ec) {
      std::cerr << "fenixctl: not JSON from " << target << ": " << ec.message()
                << "\n";
      return server_error;
    }
    return ok;
  }
};

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  client c;
  c.url_text = env_or("FENIX_URL", "http://127.0.0.1:4000");
  c.token = env_or("FENIX_TOKEN", "");
  std::string command;
  std::vector<std::string> rest;
  std::string root;
  size_t max_children = 10;
  bool as_json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    auto value = [&](const char* flag) -> const std::string* {
      if (i + 1 >= args.size()) {
        usage(std::string{"missing value for "} + flag);
        return nullptr;
      }
      return &args[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << usage_text;
      return ok;
    } else if (a == "--url") {
      auto v = value("--url");
      if (!v)
        return usage_error;
      c.url_text = *v;
    } else if (a == "--token") {
      auto v = value("--token");
      if (!v)
        return usage_error;
      c.token = *v;
    } else if (a == "--timeout") {
      auto v = value("--timeout");
      if (!v)
        return usage_error;
      c.timeout = std::chrono::milliseconds{std::atol(v->c_str())};
    } else if (a == "--root") {
      auto v = value("--root");
      if (!v)
        return usage_error;
      root = *v;
    } else if (a == "--max-children") {
      auto v = value("--max-children");
      if (!v)
        return usage_error;
      max_children = static_cast<size_t>(std::atol(v->c_str()));
    } else if (a == "--json") {
      as_json = true;
    } else if (!a.empty() && a[0] == '-') {
      return usage("unknown option " + a);
    } else if (command.empty()) {
      command = a;
    } else {
      rest.push_back(a);
    }
  }
  std::string error;
  if (!fenixctl::url::parse(c.url_text, c.u, error))
    return usage(error);
  json::value v;
  if (command == "tree") {
    std::string target = "/_fenix/tree?max_children="
                         + std::to_string(max_children);
    if (!root.empty())
      target += "&root=" + encode(root);
    if (auto rc = c.call("GET", target, v); rc != ok)
      return rc;
    if (as_json)
      std::cout << json::serialize(v) << "\n";
    else
      std::cout << fenixctl::render_tree(v, max_children);
    return ok;
  }
  if (command == "stats") {
    if (auto rc = c.call("GET", "/_fenix/stats", v); rc != ok)
      return rc;
    std::cout << (as_json ? json::serialize(v) + "\n"
                          : fenixctl::render_stats(v));
    return ok;
  }
  if (command == "actor" || command == "kill") {
    if (rest.size() != 1)
      return usage(command + " takes one actor id or name");
    auto target = "/_fenix/actors/" + encode(rest[0]);
    if (command == "kill") {
      if (auto rc = c.call("POST", target + "/kill", v); rc != ok)
        return rc;
      auto& o = v.as_object();
      if (o.if_contains("killed") && o.at("killed").as_bool())
        std::cout << "killed #" << rest[0] << "\n";
      else
        std::cout << "kill sent to #" << rest[0]
                  << "; still running (busy in a handler?)\n";
      return ok;
    }
    if (auto rc = c.call("GET", target, v); rc != ok)
      return rc;
    std::cout << json::serialize(v) << "\n";
    return ok;
  }
  if (command.empty())
    return usage("no command");
  return usage("unknown command " + command);
}
