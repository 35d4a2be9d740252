// The harness's connection actor. It mirrors the real one
// (transport/detail/connection_actor.cpp) in what a socket handler can
// observe — callbacks on the actor's thread, a thread-safe outlet, close
// after what is queued, on_close exactly once, 1011 when the handler
// throws — so that the Phoenix handler under test cannot tell the
// difference.

#include "channels/testing/detail/test_connection.hpp"

#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>
#include <caf/message_handler.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>

#include "actors/actor.hpp"
#include "actors/errors.hpp"
#include "actors/log.hpp"
#include "actors/system.hpp"
#include "actors/tree.hpp"
#include "channels/detail/protocol.hpp"
#include "channels/serializer.hpp"
#include "channels/testing/detail/inbox.hpp"
#include "transport/outlet.hpp"

namespace fenix::channels::testing::detail {

namespace {

constexpr uint16_t going_away = 1001;
constexpr uint16_t internal_error = 1011;

std::string describe(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

/// Decodes a server frame as a Phoenix client would.
client_frame decode(const serializer& ser, size_t socket,
                    const transport::frame& f) {
  client_frame out;
  out.socket = socket;
  out.wire = std::string{f.payload()};
  if (f.op() == transport::opcode::binary) {
    out.binary = true;
    auto res = decode_server_binary(f.payload());
    if (!res) {
      out.error = res.error().reason;
      return out;
    }
    out.join_ref = std::move(res->join_ref);
    out.ref = std::move(res->ref);
    out.topic = std::move(res->topic);
    out.event = std::move(res->event);
    out.status = std::move(res->status);
    out.payload = binary_payload{std::move(res->bytes)};
    switch (res->kind) {
    case binary_kind::reply:
      out.kind = frame_kind::reply;
      break;
    case binary_kind::push:
      out.kind = frame_kind::push;
      break;
    case binary_kind::broadcast:
      out.kind = frame_kind::broadcast;
      break;
    }
    return out;
  }
  if (f.op() != transport::opcode::text) {
    out.error = "control frame";
    return out;
  }
  // Server frames have the shape of client frames (five fields in V2, the
  // four keys in V1): the connection's own serializer reads them back.
  auto res = ser.decode(f.payload(), transport::opcode::text);
  if (!res) {
    out.error = res.error().reason;
    return out;
  }
  auto& msg = *res;
  out.join_ref = std::move(msg.join_ref);
  out.ref = std::move(msg.ref);
  out.topic = std::move(msg.topic);
  out.event = std::move(msg.event);
  auto& body = std::get<boost::json::value>(msg.payload);
  if (out.event != "phx_reply") {
    out.payload = std::move(body);
    out.kind = out.join_ref.is_null() && out.ref.is_null()
                   ? frame_kind::broadcast
                   : frame_kind::push;
    return out;
  }
  auto obj = body.if_object();
  auto status = obj ? obj->if_contains("status") : nullptr;
  auto response = obj ? obj->if_contains("response") : nullptr;
  if (!status || !status->is_string() || !response) {
    out.error = "phx_reply without status and response";
    return out;
  }
  out.status = std::string{status->get_string()};
  out.payload = *response;
  out.kind = frame_kind::reply;
  return out;
}

/// The connection's outbound queue: channel actors and PubSub shards push
/// into it from their own threads, as into a real one.
class capture_outlet final : public transport::outlet {
public:
  capture_outlet(const serializer& ser, std::shared_ptr<inbox> box,
                 size_t socket)
      : ser_(ser), box_(std::move(box)), socket_(socket) {
    // nop
  }

  /// Set by the connection actor before its handler can reach the outlet.
  void attach(caf::weak_actor_ptr conn) { conn_ = std::move(conn); }

  bool send(transport::frame_ptr f) override {
    if (!f)
      return false;
    return box_->add_frame(decode(ser_, socket_, *f));
  }

  /// Everything sent before is recorded already; later frames are dropped.
  /// The real transport then reports the close to its connection actor,
  /// which runs `on_close`: so does this one.
  void close(uint16_t code, std::string_view reason) override {
    transport::close_info why{code, std::string{reason},
                              transport::closed_by::server};
    if (!box_->add_close(socket_, why))
      return;
    if (auto conn = caf::actor_cast<caf::actor>(conn_.lock()))
      caf::anon_send(conn, close_atom::value, code, why.reason,
                     static_cast<uint8_t>(why.by));
  }

private:
  const serializer& ser_;
  std::shared_ptr<inbox> box_;
  size_t socket_;
  caf::weak_actor_ptr conn_; // the actor holds us: no cycle
};

class test_connection final : public fenix::actor {
public:
  test_connection(caf::actor_config& cfg, transport::socket_handler_ptr handler,
                  transport::connect_info info,
                  std::shared_ptr<capture_outlet> out,
                  std::shared_ptr<inbox> box, size_t socket)
      : fenix::actor(cfg), handler_(std::move(handler)), info_(std::move(info)),
        out_(std::move(out)), box_(std::move(box)), socket_(socket),
        ctx_(this) {
    // nop
  }

  const char* name() const override { return "fenix.test_connection"; }

  caf::behavior make_behavior() override {
    out_->attach(caf::weak_actor_ptr{ctrl()});
    set_default_handler(
        [this](caf::scheduled_actor*,
               caf::message_view& mv) -> caf::result<caf::message> {
          auto msg = mv.move_content_to_message();
          if (handler_ && handler_->on_message(ctx_, msg))
            return caf::message{};
          FENIX_WARN("testing", "test connection " << id()
                                                   << ": unexpected message "
                                                   << to_string(msg));
          return caf::sec::unexpected_message;
        });
    set_down_handler([this](caf::scheduled_actor*, caf::down_msg& dm) {
      box_->channel_down(socket_, dm.source.id());
      if (handler_)
        handler_->on_down(ctx_, dm);
    });
    set_exception_handler(
        [this](caf::scheduled_actor*, std::exception_ptr& ep) -> caf::error {
          return crash(describe(ep));
        });
    caf::message_handler own{
        [this](text_atom, std::string& text) {
          if (handler_ && !closed_)
            handler_->on_text(ctx_, text);
        },
        [this](binary_atom, std::string& data) {
          if (handler_ && !closed_)
            handler_->on_binary(ctx_, data);
        },
        [this](close_atom, uint16_t code, std::string& reason, uint8_t by) {
          if (closed_)
            return;
          closed_ = true;
          transport::close_info why{code, std::move(reason),
                                    static_cast<transport::closed_by>(by)};
          box_->add_close(socket_, why);
          if (handler_)
            handler_->on_close(ctx_, why);
          quit();
        },
        // The channel's answer to its join goes to the handler as usual; the
        // harness then notes who sent it, which is how tests reach channel
        // actors (and know the handler has recorded the join).
        [this](channels::detail::join_done_atom, int outcome,
               const std::string& topic, bool silent) {
          auto sender = caf::actor_cast<caf::actor>(current_sender());
          if (extra_) {
            auto msg =
                caf::make_message(channels::detail::join_done_atom::value,
                                  outcome, topic, silent);
            extra_(msg);
          }
          if (outcome == channels::detail::joined && sender)
            box_->channel_joined(socket_, topic, sender);
        },
    };
    try {
      extra_ = handler_->make_handlers(ctx_);
      handler_->on_open(ctx_);
      details_writer details;
      details.str("transport", info_.transport);
      details.str("peer",
                  info_.peer_address + ":" + std::to_string(info_.peer_port));
      details.str("path", info_.path);
      handler_->describe(details);
      rt().tree().merge_details(id(), details);
    } catch (...) {
      crash(describe(std::current_exception()));
      throw;
    }
    if (extra_)
      return own.or_else(extra_);
    return own;
  }

  void on_exit() override {
    if (!closed_) {
      // Stopped by its supervisor (the harness shutting down) or crashed.
      auto abnormal =
          crashed_ || classify_exit(fail_state()) == exit_kind::abnormal;
      transport::close_info why{abnormal ? internal_error : going_away,
                                abnormal ? "internal error" : "going away",
                                transport::closed_by::server};
      box_->add_close(socket_, why);
      if (handler_ && !crashed_) {
        try {
          handler_->on_close(ctx_, why);
        } catch (...) {
          // the actor is gone anyway
        }
      }
    }
    handler_.reset();
    extra_ = caf::message_handler{};
    fenix::actor::on_exit();
  }

private:
  caf::error crash(const std::string& what) {
    FENIX_WARN("testing", "test connection " << id() << ": handler threw: "
                                             << what << "; closing with 1011");
    crashed_ = true;
    if (!closed_)
      out_->close(internal_error, "internal error");
    return caf::make_error(caf::sec::runtime_error, what);
  }

  class context final : public transport::connection {
  public:
    explicit context(test_connection* self) : self_(self) {
      // nop
    }

    fenix::actor* self() noexcept override { return self_; }

    const transport::connect_info& info() const noexcept override {
      return self_->info_;
    }

    bool push(transport::frame_ptr f) override {
      return self_->out_->send(std::move(f));
    }

    transport::outlet_ptr outlet() const noexcept override {
      return self_->out_;
    }

    void close(uint16_t code, std::string_view reason) override {
      if (self_->closing_ || self_->closed_)
        return;
      self_->closing_ = true;
      self_->out_->close(code, reason);
    }

    bool closing() const noexcept override {
      return self_->closing_ || self_->closed_;
    }

  private:
    test_connection* self_;
  };

  transport::socket_handler_ptr handler_;
  caf::message_handler extra_;
  transport::connect_info info_;
  const std::shared_ptr<capture_outlet> out_;
  std::shared_ptr<inbox> box_;
  size_t socket_;
  context ctx_;
  bool closing_ = false;
  bool closed_ = false;
  bool crashed_ = false;
};

} // namespace

caf::actor spawn_test_connection(caf::actor_system& sys,
                                 transport::socket_handler_ptr handler,
                                 transport::connect_info info,
                                 const serializer& ser,
                                 std::shared_ptr<inbox> box, size_t socket) {
  auto out = std::make_shared<capture_outlet>(ser, box, socket);
  return sys.spawn<test_connection>(std::move(handler), std::move(info),
                                    std::move(out), std::move(box), socket);
}

} // namespace fenix::channels::testing::detail
