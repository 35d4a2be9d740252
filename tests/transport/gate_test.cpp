// The gate on its own: how a connect request becomes a connection actor
// started by the connections supervisor, and how every request hears its
// verdict exactly once.

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "fixture.hpp"
#include "supervision/supervisor.hpp"
#include "transport/detail/connection_actor.hpp"

using namespace fenix::test;
namespace td = fenix::transport::detail;

namespace {

/// A link that records what the connection actor sends out.
class recording_link : public outlet {
public:
  bool send(frame_ptr) override {
    return true;
  }
  void close(uint16_t, std::string_view) override {
    // nop
  }
};

/// What a connect's `done` was called with, and how often.
struct outcome {
  std::mutex mtx;
  std::condition_variable cv;
  int calls = 0;
  td::verdict v = td::verdict::accepted;
  std::unique_ptr<td::peer> p;

  td::connect_done done() {
    return [this](td::verdict x, std::unique_ptr<td::peer> y) {
      std::lock_guard<std::mutex> guard{mtx};
      ++calls;
      v = x;
      p = std::move(y);
      cv.notify_all();
    };
  }

  bool wait() {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, 5s, [&] { return calls > 0; });
  }
};

td::connect_request request(outcome& out, bool with_link = true) {
  td::connect_request req;
  req.info.transport = "websocket";
  req.info.query = "a=1";
  if (with_link)
    req.out = std::make_shared<recording_link>();
  req.id = 7;
  req.done = out.done();
  return req;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(gate, endpoint_fixture)

BOOST_AUTO_TEST_CASE(without_a_supervisor_a_connect_is_unavailable_at_once) {
  auto slot = std::make_shared<td::supervisor_slot>();
  auto g = td::make_gate(factory(), slot);
  outcome out;
  g->connect(request(out));
  BOOST_TEST(out.calls == 1); // before connect returned
  BOOST_TEST((out.v == td::verdict::unavailable));
  BOOST_TEST(!out.p);
}

BOOST_AUTO_TEST_CASE(a_connect_sent_to_a_dead_supervisor_is_unavailable) {
  // The slot still names a supervisor that is gone (its successor is not
  // up yet): the start request is dropped, and so is the connect in it.
  fenix::supervisor_flags f;
  f.dynamic = true;
  auto sup = fenix::spawn_supervisor(sys->sys(), f, {});
  {
    caf::scoped_actor self{sys->sys(), true};
    self->monitor(sup);
    self->send_exit(sup, caf::exit_reason::kill);
    self->receive([](caf::down_msg&) {},
                  caf::after(5s) >> [] { BOOST_FAIL("no DOWN"); });
  }
  auto slot = std::make_shared<td::supervisor_slot>();
  slot->set(sup);
  auto factory_runs = std::make_shared<std::atomic<int>>(0);
  auto g = td::make_gate(
    [factory_runs](const params&, const connect_info&) -> socket_handler_ptr {
      ++*factory_runs;
      return nullptr;
    },
    slot);
  outcome out;
  g->connect(request(out));
  BOOST_REQUIRE(out.wait());
  BOOST_TEST(out.calls == 1);
  BOOST_TEST((out.v == td::verdict::unavailable));
  BOOST_TEST(*factory_runs == 0);
  slot->set(caf::actor{});
}

namespace {

/// Stands in for the connections supervisor: runs each start it is sent
/// and tells `test` which child it spawned, then how that child ended.
caf::behavior fake_supervisor(caf::event_based_actor* self, caf::actor test) {
  self->set_down_handler([=](caf::down_msg& dm) {
    self->send(test, std::move(dm.reason));
  });
  return {
    [=](fenix::start_atom, fenix::child_spec& spec) {
      auto child = spec.start(self->system());
      BOOST_REQUIRE(child && *child);
      self->monitor(*child);
      self->send(test, spec.id, spec.ack == fenix::start_ack::adopt, *child);
    },
  };
}

} // namespace

BOOST_AUTO_TEST_CASE(the_supervisor_spawns_the_actor_that_runs_the_factory) {
  caf::scoped_actor self{sys->sys(), true};
  auto sup = sys->sys().spawn(fake_supervisor, caf::actor{self});
  auto slot = std::make_shared<td::supervisor_slot>();
  slot->set(sup);
  struct seen {
    std::string query;
    std::thread::id thread;
  };
  auto s = std::make_shared<seen>();
  auto g = td::make_gate(
    [s, ev = ev](const params& ps, const connect_info& info)
      -> socket_handler_ptr {
      s->query = info.query;
      s->thread = std::this_thread::get_id();
      if (ps.contains("throw"))
        throw std::runtime_error("boom");
      if (ps.contains("reject"))
        return nullptr;
      return std::make_unique<test_handler>(ev);
    },
    slot);
  auto started = [&]() -> caf::actor {
    caf::actor child;
    self->receive(
      [&](const std::string& id, bool spawned, caf::actor& x) {
        BOOST_TEST(id == "connection #7");
        BOOST_TEST(spawned); // started when its start returned
        child = std::move(x);
      },
      caf::after(5s) >> [] { BOOST_FAIL("no start"); });
    return child;
  };
  auto ended = [&] {
    std::string reason = "no DOWN";
    self->receive([&](caf::error& e) { reason = sys->sys().render(e); },
                  caf::after(5s) >> [] {});
    return reason;
  };
  auto none = sys->sys().render(caf::error{});
  // Accepted: a peer, fed once the handler is open.
  {
    outcome out;
    g->connect(request(out));
    auto child = started();
    BOOST_REQUIRE(out.wait());
    BOOST_TEST((out.v == td::verdict::accepted));
    BOOST_REQUIRE(out.p);
    BOOST_TEST(s->query == "a=1");
    BOOST_TEST((s->thread != std::this_thread::get_id()));
    BOOST_REQUIRE(ev->wait_opened(1));
    BOOST_TEST((ev->opened[0] == child));
    out.p->on_closed(close_info{1000, "done", closed_by::client});
    BOOST_REQUIRE(ev->wait_closes(1));
    out.p.reset();
    BOOST_TEST(ended() == none);
  }
  // Refused, thrown, accepted without a link (only decided): no handler
  // opens and the actor ends normally.
  struct {
    const char* query;
    bool with_link;
    td::verdict expected;
  } cases[] = {{"reject=1", true, td::verdict::refused},
               {"throw=1", true, td::verdict::refused},
               {"a=1", false, td::verdict::accepted}};
  for (auto& x : cases) {
    BOOST_TEST_CONTEXT(x.query << (x.with_link ? "" : ", no link")) {
      outcome out;
      auto req = request(out, x.with_link);
      req.info.query = x.query;
      g->connect(std::move(req));
      started();
      BOOST_REQUIRE(out.wait());
      BOOST_TEST((out.v == x.expected));
      BOOST_TEST(!out.p);
      BOOST_TEST(ended() == none);
    }
  }
  BOOST_TEST(ev->opened.size() == 1u);
  BOOST_TEST(slot->wait_no_actors(5s));
  slot->set(caf::actor{});
  self->send_exit(sup, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_SUITE_END()
