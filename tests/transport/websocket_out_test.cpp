// The WebSocket transport's outbound side: queued frames in order and in
// gather-writes, corked replies of one actor turn, partial writes, slow
// readers, frames around the read inbox's size. Real sockets on 127.0.0.1.

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include <caf/send.hpp>

#include "fixture.hpp"
#include "raw_client.hpp"
#include "transport/echo_handler.hpp"

using namespace fenix::test;

BOOST_FIXTURE_TEST_SUITE(websocket_out, endpoint_fixture)

BOOST_AUTO_TEST_CASE(queued_frames_leave_in_order_in_gather_writes) {
  start();
  auto c = open_ws(port());
  auto before = ep->stats();
  BOOST_TEST(c.send_text("blast 5000 64"));
  expect_numbered(c, 5000);
  auto after = stats_after_frames(*ep, before, 5000);
  auto frames = after.frames_out - before.frames_out;
  auto writes = after.writes - before.writes;
  BOOST_TEST(frames == 5000u);
  BOOST_TEST_MESSAGE("5000 frames left in " << writes << " gather-writes");
  // The actor queues faster than one write completes: frames coalesce.
  BOOST_TEST(writes < 1000u);
}

BOOST_AUTO_TEST_CASE(replies_of_one_actor_turn_leave_in_one_write) {
  start();
  auto c = open_ws(port());
  auto before = ep->stats();
  BOOST_TEST(c.send_text("replies 40 32"));
  expect_numbered(c, 40);
  auto end = c.read_frame();
  BOOST_REQUIRE(end);
  BOOST_TEST(end->payload == "end");
  auto after = stats_after_frames(*ep, before, 41);
  BOOST_TEST(after.frames_out - before.frames_out == 41u);
  // The replies are corked until the connection actor's turn ends and
  // leave together from its thread; "end" is queued behind them (it may
  // join them or follow in the strand's write).
  BOOST_TEST(after.writes - before.writes <= 2u);
}

BOOST_AUTO_TEST_CASE(pushes_of_one_actor_turn_leave_from_its_thread) {
  // Plain pushes (outlet::send, as PubSub broadcasts) to an idle connection
  // inside an actor's turn are corked like replies: the actor's thread
  // writes them when the turn ends, the I/O thread does not.
  start();
  auto c = open_ws(port());
  auto before = ep->stats();
  BOOST_TEST(c.send_text("blast 40 32"));
  expect_numbered(c, 40);
  auto after = stats_after_frames(*ep, before, 40);
  BOOST_TEST(after.frames_out - before.frames_out == 40u);
  BOOST_TEST(after.writes - before.writes == 1u);
  BOOST_TEST(after.direct_writes - before.direct_writes == 1u);
  // From a thread outside any actor, a plain send goes to the I/O thread.
  BOOST_REQUIRE(ev->wait_opened(1));
  outlet_ptr out;
  {
    std::lock_guard<std::mutex> guard{ev->mtx};
    out = ev->outlets.at(0);
  }
  BOOST_REQUIRE(out);
  BOOST_TEST(out->send(frame::make(opcode::text, "outside")));
  auto f = c.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "outside");
  auto last = stats_after_frames(*ep, after, 1);
  BOOST_TEST(last.writes - after.writes == 1u);
  BOOST_TEST(last.direct_writes - after.direct_writes == 0u);
}

BOOST_AUTO_TEST_CASE(a_reply_the_kernel_takes_in_part_is_completed_in_order) {
  start();
  raw_client c;
  BOOST_REQUIRE(c.connect(port(), 4096)); // small receive buffer
  BOOST_REQUIRE(c.handshake());
  // 3 x 4 MiB: the direct write cannot place all of it in the socket
  // buffers while the client does not read; the rest must follow intact,
  // before "end".
  constexpr size_t size = 4 << 20;
  BOOST_TEST(c.send_text("replies 3 " + std::to_string(size)));
  for (size_t i = 0; i < 3; ++i) {
    auto f = c.read_frame(10s);
    BOOST_REQUIRE(f);
    BOOST_REQUIRE_EQUAL(f->payload.size(), size);
    auto expected = std::to_string(i);
    expected.resize(size, static_cast<char>('a' + i));
    BOOST_REQUIRE(f->payload == expected);
  }
  auto end = c.read_frame();
  BOOST_REQUIRE(end);
  BOOST_TEST(end->payload == "end");
}

BOOST_AUTO_TEST_CASE(replies_from_a_thread_outside_any_actor_keep_order) {
  // Outside an actor's turn a reply is written at once when the connection
  // is idle, else queued: either way in order with plain sends.
  start();
  auto c = open_ws(port());
  BOOST_REQUIRE(ev->wait_opened(1));
  outlet_ptr out;
  {
    std::lock_guard<std::mutex> guard{ev->mtx};
    out = ev->outlets.at(0);
  }
  BOOST_REQUIRE(out);
  for (int i = 0; i < 20; ++i)
    BOOST_TEST(out->send_reply(frame::make(opcode::text, std::to_string(i))));
  BOOST_TEST(out->send(frame::make(opcode::text, "queued")));
  for (int i = 0; i < 20; ++i) {
    auto f = c.read_frame();
    BOOST_REQUIRE(f);
    BOOST_REQUIRE_EQUAL(f->payload, std::to_string(i));
  }
  auto f = c.read_frame();
  BOOST_REQUIRE(f);
  BOOST_TEST(f->payload == "queued");
  // Closed connections refuse replies like any frame.
  c.send_close(1000);
  BOOST_REQUIRE(ev->wait_closes(1));
  BOOST_TEST(wait_until([&] {
    return !out->send_reply(frame::make(opcode::text, "late"));
  }));
}

BOOST_AUTO_TEST_CASE(slow_reader_is_dropped_fast_reader_gets_everything) {
  socket_options opts;
  opts.max_queue_bytes = 512 * 1024;
  opts.max_queue_frames = 100000;
  start(opts);
  raw_client slow;
  BOOST_REQUIRE(slow.connect(port(), 4096));
  BOOST_REQUIRE(slow.handshake());
  auto fast = open_ws(port());
  constexpr int rounds = 40;
  constexpr int per_round = 200;
  constexpr int size = 1024; // 40 x 200 x 1 KiB = 8 MiB per client
  std::atomic<bool> fast_ok{true};
  std::thread reader{[&] {
    for (int r = 0; r < rounds; ++r) {
      if (!fast.send_text("blast " + std::to_string(per_round) + " "
                          + std::to_string(size))) {
        fast_ok = false;
        return;
      }
      for (int i = 0; i < per_round; ++i) {
        auto f = fast.read_frame(10s);
        if (!f || f->payload.substr(0, f->payload.find_first_not_of(
                                            "0123456789"))
                    != std::to_string(i)) {
          fast_ok = false;
          return;
        }
      }
    }
  }};
  // The slow client asks for the same and never reads.
  for (int r = 0; r < rounds; ++r)
    if (!slow.send_text("blast " + std::to_string(per_round) + " "
                        + std::to_string(size)))
      break;
  reader.join();
  BOOST_TEST(fast_ok.load());
  BOOST_TEST(wait_until([&] { return ep->stats().queue_drops == 1; }, 10s));
  // The slow client is gone: after what the kernel buffered, its socket
  // ends (with the 1008 close frame if it could still be written).
  BOOST_TEST(slow.wait_eof(10s));
  BOOST_REQUIRE(ev->wait_closes(1));
  BOOST_TEST(ev->closes[0].code == 1008);
  BOOST_TEST(ep->stats().connections == 1u);
}

BOOST_AUTO_TEST_CASE(frames_of_every_size_around_the_read_inbox_arrive_intact) {
  // The reactor reads into a small per-connection inbox and the rest of a
  // burst into the io thread's buffer: frames of every size across that
  // boundary, sent back to back (the server reads them in bursts that
  // split frames anywhere), must each arrive whole and in order.
  endpoint_config c;
  c.socket("/socket", echo_factory());
  start(std::move(c));
  raw_client cl;
  BOOST_REQUIRE(cl.connect(port()));
  auto rep = cl.handshake();
  BOOST_REQUIRE(rep);
  BOOST_REQUIRE_EQUAL(rep->status, 101);
  auto payload = [](size_t size) {
    std::string s(size, ' ');
    for (size_t i = 0; i < size; ++i)
      s[i] = static_cast<char>('a' + (size + i) % 26);
    return s;
  };
  constexpr size_t max_size = 300;
  for (int round = 0; round < 3; ++round) {
    for (size_t size = 1; size <= max_size; ++size)
      BOOST_REQUIRE(cl.send_text(payload(size)));
    for (size_t size = 1; size <= max_size; ++size) {
      auto f = cl.read_frame(5s);
      BOOST_REQUIRE(f);
      BOOST_REQUIRE_EQUAL(f->payload, payload(size));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
