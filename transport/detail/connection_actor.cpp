// The connection actor: one per WebSocket or long-poll session. It runs
// the socket handler and is the only place where handler code executes.

#include "transport/detail/connection_actor.hpp"

#include <chrono>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
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
#include "supervision/supervisor.hpp"
#include "transport/detail/ws_reader.hpp"

namespace fenix::transport::detail {

namespace {

using text_atom = caf::atom_constant<caf::atom("fx_text")>;
using binary_atom = caf::atom_constant<caf::atom("fx_binary")>;
using closed_atom = caf::atom_constant<caf::atom("fx_closed")>;
using drain_atom = caf::atom_constant<caf::atom("fx_drain")>;
using batch_atom = caf::atom_constant<caf::atom("fx_batch")>;

using decided_atom = caf::atom_constant<caf::atom("fx_decided")>;

/// What the handler factory made of a connect, on its way from the
/// blocking pool to the connection actor (null: refused).
struct decision {
  std::shared_ptr<socket_handler_ptr> handler;
};

/// A long-poll POST on its way to the actor.
struct batch {
  std::vector<inbound_message> msgs;
  std::function<void()> ack;
};

/// A connect on its way from the gate through the connections supervisor
/// into a connection actor. Whoever drops it undecided (the supervisor
/// never ran the start: it was gone, restarting or stopping; or the actor
/// ended before its first turn) tells the I/O side `unavailable`, so the
/// I/O side hears exactly once of every connect.
struct pending_connect {
  pending_connect(connect_request r, std::shared_ptr<const handler_factory> f)
      : req(std::move(r)), factory(std::move(f)) {
    // nop
  }

  pending_connect(const pending_connect&) = delete;
  pending_connect& operator=(const pending_connect&) = delete;

  ~pending_connect() {
    decide(verdict::unavailable, nullptr);
  }

  void decide(verdict v, std::unique_ptr<peer> p) {
    if (auto done = std::exchange(req.done, nullptr))
      done(v, std::move(p));
  }

  connect_request req;
  std::shared_ptr<const handler_factory> factory;
};

using pending_ptr = std::shared_ptr<pending_connect>;

} // namespace
} // namespace fenix::transport::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::transport::detail::batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(fenix::transport::detail::decision)

namespace fenix::transport::detail {

namespace {

std::string describe(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

class connection_actor final : public fenix::actor {
public:
  connection_actor(caf::actor_config& cfg, pending_ptr pending,
                   std::shared_ptr<supervisor_slot> slot)
      : fenix::actor(cfg),
        link_(std::move(pending->req.out)),
        slot_(std::move(slot)),
        info_(std::move(pending->req.info)),
        number_(pending->req.id),
        pending_(std::move(pending)),
        ctx_(this) {
    slot_->actor_started();
  }

  const char* name() const override {
    return "fenix.connection";
  }

  caf::behavior make_behavior() override {
    set_default_handler(
      [this](caf::scheduled_actor*,
             caf::message_view& mv) -> caf::result<caf::message> {
        auto msg = mv.move_content_to_message();
        if (handler_ && handler_->on_message(ctx_, msg))
          return caf::message{};
        FENIX_WARN("transport", "connection " << number_
                                  << ": unexpected message " << to_string(msg));
        return caf::sec::unexpected_message;
      });
    set_down_handler([this](caf::scheduled_actor*, caf::down_msg& dm) {
      if (handler_)
        handler_->on_down(ctx_, dm);
    });
    set_exception_handler(
      [this](caf::scheduled_actor*, std::exception_ptr& ep) -> caf::error {
        return crash(describe(ep));
      });
    // The handler factory (a user socket's connect: authentication) may
    // block; it runs on the runtime's blocking pool, not on a CAF worker,
    // and the verdict comes back as a message. Nothing else can arrive
    // meanwhile: the client hears 101 only after it.
    run_factory();
    return {
      [this](decided_atom, decision& d) {
        if (!decide(d.handler ? std::move(*d.handler) : nullptr)) {
          quit(); // refused, or nothing to open: no handler ever ran
          return;
        }
        become(opened_behavior());
      },
    };
  }

  caf::behavior opened_behavior() {
    caf::message_handler own{
      [this](text_atom, std::string& text) {
        if (handler_)
          handler_->on_text(ctx_, text);
      },
      [this](binary_atom, std::string& data) {
        if (handler_)
          handler_->on_binary(ctx_, data);
      },
      [this](batch_atom, batch& b) {
        for (auto& [is_text, data] : b.msgs) {
          if (!handler_ || closed_)
            break;
          if (is_text)
            handler_->on_text(ctx_, data);
          else
            handler_->on_binary(ctx_, data);
        }
        if (b.ack)
          b.ack();
      },
      [this](closed_atom, uint16_t code, std::string& reason, uint8_t by) {
        closed_ = true;
        if (handler_) {
          close_info why{code, std::move(reason), static_cast<closed_by>(by)};
          handler_->on_close(ctx_, why);
        }
        quit();
      },
      [this](drain_atom) {
        if (handler_ && !closed_)
          handler_->on_drain(ctx_);
      },
    };
    caf::message_handler extra;
    try {
      extra = handler_->make_handlers(ctx_);
      handler_->on_open(ctx_);
      details_writer details;
      details.str("transport", info_.transport);
      details.str("peer", info_.peer_address + ":"
                            + std::to_string(info_.peer_port));
      details.str("path", info_.path);
      if (!info_.subprotocol.empty())
        details.str("subprotocol", info_.subprotocol);
      handler_->describe(details);
      rt().tree().merge_details(id(), details);
    } catch (...) {
      crash(describe(std::current_exception()));
      throw;
    }
    if (extra)
      return own.or_else(extra);
    return own;
  }

  void on_exit() override {
    pending_.reset(); // undecided: the I/O side hears `unavailable` now
    if (opened_ && !closed_) {
      // Going away with the transport still open: killed by a supervisor,
      // the handler quit, or it threw.
      auto abnormal = crashed_
                      || classify_exit(fail_state()) == exit_kind::abnormal;
      uint16_t code = abnormal ? close_code::internal_error
                               : close_code::going_away;
      link_->close(code, abnormal ? "internal error" : "going away");
      if (handler_ && !crashed_) {
        try {
          close_info why{code, "shutdown", closed_by::server};
          handler_->on_close(ctx_, why);
        } catch (...) {
          // the actor is gone anyway
        }
      }
    }
    handler_.reset();
    // link_ stays: `push` may read it from other threads until the actor is
    // destroyed. It holds no cycle: the I/O side dropped (or drops when it
    // finishes closing) its handle to this actor.
    fenix::actor::on_exit();
    slot_->actor_stopped();
  }

private:
  /// Hands the connect to the blocking pool, which runs the handler
  /// factory and sends the verdict back.
  void run_factory() {
    auto factory = pending_->factory;
    auto self = caf::actor_cast<caf::actor>(this);
    auto job = [self, factory, ps = params::parse(info_.query),
                info = info_]() mutable {
      socket_handler_ptr h;
      try {
        h = (*factory)(ps, info);
      } catch (const std::exception& e) {
        FENIX_WARN("transport", "handler factory threw: " << e.what()
                                  << "; refusing " << info.peer_address);
      } catch (...) {
        FENIX_WARN("transport", "handler factory threw; refusing "
                                  << info.peer_address);
      }
      caf::anon_send(self, decided_atom::value,
                     decision{h ? std::make_shared<socket_handler_ptr>(
                                std::move(h))
                                : nullptr});
    };
    if (!rt().blocking().post(std::move(job)))
      send(this, decided_atom::value, decision{}); // stopping: refuse
  }

  /// Tells the I/O side what the factory decided; true when the
  /// connection opens.
  bool decide(socket_handler_ptr h) {
    auto pending = std::move(pending_);
    // Headers and query were for the factory only (memory per idle
    // connection).
    info_.headers.clear();
    info_.headers.shrink_to_fit();
    info_.query.clear();
    info_.query.shrink_to_fit();
    if (!h) {
      pending->decide(verdict::refused, nullptr);
      return false;
    }
    if (!link_) {
      pending->decide(verdict::accepted, nullptr);
      return false;
    }
    handler_ = std::move(h);
    opened_ = true;
    // The verdict leaves before on_open runs: what the handler pushes or
    // closes from now on reaches the I/O side after it, behind the 101.
    // Inbound frames wait in the mailbox until this turn ends.
    pending->decide(verdict::accepted, make_peer());
    return true;
  }

  std::unique_ptr<peer> make_peer();

  caf::error crash(const std::string& what) {
    FENIX_WARN("transport", "connection " << number_ << ": handler threw: "
                              << what << "; closing with 1011");
    crashed_ = true;
    if (!closed_)
      link_->close(close_code::internal_error, "internal error");
    return caf::make_error(caf::sec::runtime_error, what);
  }

  /// The handler's view of this actor.
  class context final : public connection {
  public:
    explicit context(connection_actor* self) : self_(self) {
      // nop
    }

    fenix::actor* self() noexcept override { return self_; }

    const connect_info& info() const noexcept override { return self_->info_; }

    bool push(frame_ptr f) override {
      // May run on any thread: only the immutable, thread-safe link is
      // touched.
      return self_->link_->send(std::move(f));
    }

    outlet_ptr outlet() const noexcept override {
      return self_->link_;
    }

    void close(uint16_t code, std::string_view reason) override {
      if (self_->closing_ || self_->closed_)
        return;
      self_->closing_ = true;
      self_->link_->close(code, reason);
    }

    bool closing() const noexcept override {
      return self_->closing_ || self_->closed_;
    }

  private:
    connection_actor* self_;
  };

  socket_handler_ptr handler_;
  // Null for a connect that is only decided.
  const std::shared_ptr<link> link_;
  std::shared_ptr<supervisor_slot> slot_;
  connect_info info_;
  uint64_t number_;
  // Until decided.
  pending_ptr pending_;
  context ctx_;
  bool opened_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool crashed_ = false;
};

class peer_impl final : public peer {
public:
  explicit peer_impl(caf::actor hdl) : actor_(std::move(hdl)) {
    // nop
  }

  void on_text(std::string msg) override {
    caf::anon_send(actor_, text_atom::value, std::move(msg));
  }

  void on_binary(std::string msg) override {
    caf::anon_send(actor_, binary_atom::value, std::move(msg));
  }

  void on_batch(std::vector<inbound_message> msgs,
                std::function<void()> ack) override {
    caf::anon_send(actor_, batch_atom::value,
                   batch{std::move(msgs), std::move(ack)});
  }

  void on_closed(close_info why) override {
    caf::anon_send(actor_, closed_atom::value, why.code, std::move(why.reason),
                   static_cast<uint8_t>(why.by));
  }

  void drain() override {
    caf::anon_send(actor_, drain_atom::value);
  }

private:
  caf::actor actor_;
};

std::unique_ptr<peer> connection_actor::make_peer() {
  return std::make_unique<peer_impl>(caf::actor_cast<caf::actor>(this));
}

class gate_impl final : public gate {
public:
  gate_impl(handler_factory f, std::shared_ptr<supervisor_slot> slot)
      : factory_(std::make_shared<const handler_factory>(std::move(f))),
        slot_(std::move(slot)) {
    // nop
  }

  void connect(connect_request req) override {
    auto sup = slot_->get();
    if (!sup) {
      req.done(verdict::unavailable, nullptr);
      return;
    }
    child_spec spec;
    spec.id = "connection #" + std::to_string(req.id);
    spec.kind = "connection";
    spec.restart = restart_type::temporary;
    spec.ack = start_ack::adopt; // start spawns the child: start_ack::spawned
    spec.shutdown = shutdown_spec::after(std::chrono::milliseconds{5000});
    // The supervisor spawns the actor, so it owns it from birth. The
    // start function gives up its reference: the actor holds the connect
    // alone, and a spec that is dropped unstarted drops it too.
    spec.start = [pending = std::make_shared<pending_connect>(std::move(req),
                                                              factory_),
                  slot = slot_](caf::actor_system& sys) mutable
      -> caf::expected<caf::actor> {
      return sys.spawn<connection_actor>(std::move(pending), slot);
    };
    caf::anon_send(sup, start_atom::value, std::move(spec));
  }

private:
  std::shared_ptr<const handler_factory> factory_;
  std::shared_ptr<supervisor_slot> slot_;
};

} // namespace

std::shared_ptr<gate> make_gate(handler_factory f,
                                std::shared_ptr<supervisor_slot> slot) {
  return std::make_shared<gate_impl>(std::move(f), std::move(slot));
}

size_t connection_actor_size() noexcept {
  return sizeof(connection_actor);
}

} // namespace fenix::transport::detail
