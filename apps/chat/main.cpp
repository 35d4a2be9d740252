// fenix_chat: the chat demo (`make demo`). Serves the page from
// apps/chat/static, the official phoenix client as /vendor/phoenix.mjs,
// the Phoenix socket at /socket, and the live actor tree at /tree.
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <caf/all.hpp>

#include "actors/system.hpp"
#include "actors/tree.hpp"
#include "apps/chat/chat.hpp"
#include "apps/chat/history.hpp"
#include "channels/presence.hpp"
#include "channels/pubsub.hpp"
#include "supervision/application.hpp"
#include "supervision/supervisor.hpp"
#include "transport/endpoint.hpp"

namespace {

struct chat_config : fenix::config {
  std::string host = "127.0.0.1";
  uint16_t port = 4000;
  std::string static_dir = FENIX_CHAT_STATIC_DIR;
  std::string vendor_dir = FENIX_CHAT_VENDOR_DIR;
  size_t history = 100;
  chat_config() {
    opt_group{custom_options_, "global"}
      .add(host, "host", "bind address")
      .add(port, "port,p", "TCP port (0 picks one)")
      .add(static_dir, "static-dir", "directory of the page (index.html)")
      .add(vendor_dir, "vendor-dir",
           "directory holding phoenix.mjs (the phoenix npm package's "
           "priv/static)")
      .add(history, "history", "messages kept per room");
  }
};

/// Reads the phoenix client once at start; served from memory.
using vendor_files = std::map<std::string, std::shared_ptr<const std::string>>;

std::optional<vendor_files> load_vendor(const std::string& dir) {
  vendor_files out;
  for (auto name : {"phoenix.mjs", "phoenix.mjs.map"}) {
    std::ifstream in{dir + "/" + name, std::ios::binary};
    if (!in) {
      if (out.empty())
        return std::nullopt;
      continue;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    out.emplace(std::string{"/vendor/"} + name,
                std::make_shared<const std::string>(buf.str()));
  }
  return out;
}

fenix::transport::http_route_handler vendor_route(vendor_files files) {
  return [files = std::move(files)](const fenix::transport::http_request& req,
                                    fenix::transport::http_responder respond) {
    auto i = files.find(req.path);
    if (i == files.end()) {
      respond(fenix::transport::http_response::text(404, "not found\n"));
      return;
    }
    fenix::transport::http_response res;
    auto js = req.path.size() > 4
              && req.path.compare(req.path.size() - 4, 4, ".mjs") == 0;
    res.headers.emplace_back("content-type",
                             js ? "text/javascript; charset=utf-8"
                                : "application/json");
    res.headers.emplace_back("cache-control", "public, max-age=3600");
    if (req.method != "HEAD")
      res.body = *i->second;
    respond(std::move(res));
  };
}

/// GET /tree: the live actor tree as text (the history actor is in it).
fenix::transport::http_route_handler tree_route(fenix::actor_tree& tree) {
  return [&tree](const fenix::transport::http_request&,
                 fenix::transport::http_responder respond) {
    std::string out;
    for (auto& root : tree.snapshot())
      out += fenix::render_tree(root);
    auto res = fenix::transport::http_response::text(200, std::move(out));
    respond(std::move(res));
  };
}

int run(fenix::system& sys, const chat_config& cfg) {
  auto vendor = load_vendor(cfg.vendor_dir);
  if (!vendor) {
    std::cerr << "fenix_chat: " << cfg.vendor_dir
              << "/phoenix.mjs not found: run `npm install` in apps/chat "
                 "(scripts/install-deps.sh does it)\n";
    return 1;
  }
  // chat (one_for_one)
  // ├─ pubsub:chat      topic -> subscribers
  // ├─ presence:chat    who is online, presence_diff broadcasts
  // └─ history          the last messages of every room
  auto [ps, ps_spec] = fenix::channels::pubsub::make("chat", 2);
  auto [presence, presence_spec] = fenix::channels::presence::make("chat", ps);
  chat::history::limits lim;
  lim.per_room = cfg.history;
  auto [history, history_spec] = chat::history::make(ps, lim);
  fenix::supervisor_flags app_flags;
  app_flags.name = "chat";
  // Under the application root: if it gives up, the process ends (1).
  auto app = fenix::start_in_application(
    sys, fenix::supervisor_spec("chat", app_flags,
                                {std::move(ps_spec), std::move(presence_spec),
                                 std::move(history_spec)}));
  if (!app) {
    std::cerr << "cannot start: " << sys.sys().render(app.error()) << "\n";
    return 1;
  }
  fenix::transport::endpoint_config ep_cfg;
  ep_cfg.name = "ChatEndpoint";
  ep_cfg.address = cfg.host;
  ep_cfg.port = cfg.port;
  ep_cfg.static_dir = cfg.static_dir;
  // The endpoint supervises the channel servers (before its server).
  auto [pool, pool_spec] = fenix::channels::channel_pool::make();
  ep_cfg.children.push_back(std::move(pool_spec));
  fenix::transport::socket_options opts;
  opts.longpoll.enabled = true;
  ep_cfg.socket("/socket",
                fenix::channels::phoenix_handler_factory(
                  chat::make_user_socket(presence, history), ps, pool),
                opts);
  ep_cfg.route("/vendor", vendor_route(std::move(*vendor)));
  ep_cfg.route("/tree", tree_route(sys.tree()));
  auto ep = fenix::transport::endpoint::start(sys, std::move(ep_cfg));
  if (!ep) {
    std::cerr << "cannot start endpoint: " << sys.sys().render(ep.error())
              << "\n";
    return 1;
  }
  std::cout << "fenix_chat: open " << (*ep)->url()
            << " in a browser (Ctrl-C stops; actor tree at " << (*ep)->url()
            << "/tree)" << std::endl;
  fenix::await_shutdown_signal();
  std::cout << "fenix_chat: draining" << std::endl;
  (*ep)->stop();
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  fenix::block_shutdown_signals();
  chat_config cfg;
  return fenix::boot(argc, argv, cfg,
                     [&](fenix::system& sys) { return run(sys, cfg); });
}
