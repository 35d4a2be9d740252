// Pure unit tests: RFC 6455 reader, UTF-8, crypto, origin, query params.

#include <boost/test/unit_test.hpp>

#include <random>
#include <string>
#include <vector>

#include "transport/connect_info.hpp"
#include "transport/detail/crypto.hpp"
#include "transport/detail/utf8.hpp"
#include "transport/detail/ws_reader.hpp"
#include "transport/frame.hpp"
#include "transport/origin.hpp"

using namespace fenix::transport;
using namespace fenix::transport::detail;

namespace {

std::string client_frame(uint8_t op, std::string_view payload, bool fin = true,
                         bool mask = true, uint8_t rsv = 0) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | op));
  auto len = payload.size();
  uint8_t m = mask ? 0x80 : 0;
  if (len < 126) {
    out.push_back(static_cast<char>(m | len));
  } else if (len <= 0xFFFF) {
    out.push_back(static_cast<char>(m | 126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xFF));
  } else {
    out.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i)
      out.push_back(static_cast<char>((uint64_t{len} >> (8 * i)) & 0xFF));
  }
  const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (mask)
    out.append(reinterpret_cast<const char*>(key), 4);
  auto off = out.size();
  out.append(payload);
  if (mask)
    for (size_t i = 0; i < len; ++i)
      out[off + i] = static_cast<char>(out[off + i] ^ key[i & 3]);
  return out;
}

struct result {
  ws_reader::event ev;
  std::string data;
  uint16_t code = 0;
};

/// Feeds `bytes` in chunks of `chunk` and collects the events.
std::vector<result> run(ws_reader& r, const std::string& bytes,
                        size_t chunk = 0) {
  std::vector<result> out;
  if (chunk == 0)
    chunk = bytes.size();
  auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t off = 0;
  while (off < bytes.size()) {
    auto n = std::min(chunk, bytes.size() - off);
    const uint8_t* pos = p + off;
    const uint8_t* end = pos + n;
    while (pos < end) {
      auto ev = r.next(pos, end);
      if (ev == ws_reader::event::need_more)
        break;
      result res{ev, {}, 0};
      if (ev == ws_reader::event::message)
        res.data = r.take_message();
      else if (ev == ws_reader::event::ping)
        res.data = r.control();
      else if (ev == ws_reader::event::close) {
        res.code = r.close_code();
        res.data = std::string{r.close_reason()};
      } else if (ev == ws_reader::event::error) {
        res.code = r.error_code();
        out.push_back(res);
        return out;
      }
      out.push_back(std::move(res));
    }
    off += n;
  }
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(codec)

BOOST_AUTO_TEST_CASE(frame_headers_for_all_lengths) {
  for (size_t len : {0u, 1u, 125u, 126u, 65535u, 65536u, 100000u}) {
    auto f = frame::make(opcode::text, std::string(len, 'a'));
    BOOST_TEST(f->payload_size() == len);
    auto w = f->wire();
    BOOST_TEST(static_cast<uint8_t>(w[0]) == 0x81);
    size_t hdr = len < 126 ? 2 : len <= 0xFFFF ? 4 : 10;
    BOOST_TEST(w.size() == hdr + len);
  }
  auto c = frame::make_close(1012, "service restart");
  BOOST_TEST(c->is_control());
  BOOST_TEST(static_cast<uint8_t>(c->wire()[0]) == 0x88);
  BOOST_TEST(c->payload().substr(2) == "service restart");
  auto long_reason = frame::make_close(1000, std::string(200, 'x'));
  BOOST_TEST(long_reason->payload_size() <= 125u);
}

BOOST_AUTO_TEST_CASE(reads_masked_messages_in_any_chunking) {
  std::string big(70000, 'z');
  auto bytes = client_frame(0x1, "hello") + client_frame(0x2, big)
               + client_frame(0x9, "p") + client_frame(0x8, "\x03\xe8" "bye");
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{3}, size_t{7}, size_t{4096}}) {
    ws_reader r{1 << 20};
    auto evs = run(r, bytes, chunk);
    BOOST_REQUIRE_EQUAL(evs.size(), 4u);
    BOOST_TEST((evs[0].ev == ws_reader::event::message));
    BOOST_TEST(evs[0].data == "hello");
    BOOST_TEST((evs[1].ev == ws_reader::event::message));
    BOOST_TEST(evs[1].data == big);
    BOOST_TEST((evs[2].ev == ws_reader::event::ping));
    BOOST_TEST(evs[2].data == "p");
    BOOST_TEST((evs[3].ev == ws_reader::event::close));
    BOOST_TEST(evs[3].code == 1000);
    BOOST_TEST(evs[3].data == "bye");
  }
}

BOOST_AUTO_TEST_CASE(fragments_with_interleaved_control_frames) {
  auto bytes = client_frame(0x1, "Hel", false) + client_frame(0x9, "x")
               + client_frame(0x0, "lo ", false) + client_frame(0x0, "world");
  ws_reader r{1024};
  auto evs = run(r, bytes, 2);
  BOOST_REQUIRE_EQUAL(evs.size(), 2u);
  BOOST_TEST((evs[0].ev == ws_reader::event::ping));
  BOOST_TEST(evs[1].data == "Hello world");
}

BOOST_AUTO_TEST_CASE(protocol_violations) {
  struct tc {
    std::string bytes;
    uint16_t code;
  };
  std::vector<tc> cases{
    {client_frame(0x1, "x", true, false), 1002},          // unmasked
    {client_frame(0x1, "x", true, true, 4), 1002},        // RSV1
    {client_frame(0x3, "x"), 1002},                       // reserved opcode
    {client_frame(0xB, "x"), 1002},                       // reserved control
    {client_frame(0x0, "x"), 1002},                       // lone continuation
    {client_frame(0x1, "a", false) + client_frame(0x1, "b"), 1002},
    {client_frame(0x9, "p", false), 1002},                // fragmented ping
    {client_frame(0x9, std::string(126, 'p')), 1002},     // long control
    {client_frame(0x8, "\x03"), 1002},                    // 1-byte close
    {client_frame(0x8, std::string("\x03\xed", 2)), 1002}, // code 1005
    {client_frame(0x8, std::string("\x03\xe8\xff", 3)), 1007},
    {client_frame(0x1, "\xc3\x28"), 1007},                // bad UTF-8
    {client_frame(0x1, "\xed\xa0\x80"), 1007},            // surrogate
    {client_frame(0x1, "\xe2\x82", true), 1007},          // truncated
    {client_frame(0x1, std::string(2000, 'a')), 1009},
    {client_frame(0x2, std::string(600, 'a'), false)
       + client_frame(0x0, std::string(600, 'a')), 1009},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    BOOST_TEST_INFO("case " << i);
    auto& c = cases[i];
    ws_reader r{1000};
    auto evs = run(r, c.bytes);
    BOOST_REQUIRE(!evs.empty());
    BOOST_TEST((evs.back().ev == ws_reader::event::error));
    BOOST_TEST(evs.back().code == c.code);
  }
}

BOOST_AUTO_TEST_CASE(utf8_split_across_fragments_and_reads) {
  // "€" = E2 82 AC split between two fragments: valid.
  auto bytes = client_frame(0x1, "\xe2\x82", false) + client_frame(0x0, "\xac");
  ws_reader r{100};
  auto evs = run(r, bytes, 1);
  BOOST_REQUIRE_EQUAL(evs.size(), 1u);
  BOOST_TEST(evs[0].data == "\xe2\x82\xac");
  // Fail fast: an invalid byte in the first fragment is an error before
  // the message ends.
  ws_reader r2{100};
  auto evs2 = run(r2, client_frame(0x1, "ok\xff", false));
  BOOST_REQUIRE_EQUAL(evs2.size(), 1u);
  BOOST_TEST(evs2[0].code == 1007);
}

BOOST_AUTO_TEST_CASE(utf8_validation) {
  BOOST_TEST(is_valid_utf8("plain ascii text, long enough for the fast path"));
  BOOST_TEST(is_valid_utf8("κόσμε \xf0\x9f\x98\x80"));
  BOOST_TEST(!is_valid_utf8("\xc0\xaf"));         // overlong
  BOOST_TEST(!is_valid_utf8("\xf4\x90\x80\x80")); // > U+10FFFF
  BOOST_TEST(!is_valid_utf8("\xed\xbf\xbf"));     // surrogate
  BOOST_TEST(!is_valid_utf8("\x80"));
  utf8_validator v;
  BOOST_TEST(v.feed("\xf0\x9f"));
  BOOST_TEST(!v.complete());
  BOOST_TEST(v.feed("\x98\x80"));
  BOOST_TEST(v.complete());
}

BOOST_AUTO_TEST_CASE(accept_key_and_base64) {
  // RFC 6455 §1.3 example.
  BOOST_TEST(websocket_accept("dGhlIHNhbXBsZSBub25jZQ==")
             == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  BOOST_TEST(base64_encode("foobar") == "Zm9vYmFy");
  BOOST_TEST(base64_encode("fo") == "Zm8=");
  BOOST_TEST(base64url_encode("\xfb\xff") == "-_8");
  BOOST_TEST(base64_decode("Zm8").value_or("?") == "fo");
  BOOST_TEST(base64_decode("Zm8=").value_or("?") == "fo");
  BOOST_TEST(!base64_decode("Zm8*"));
}

BOOST_AUTO_TEST_CASE(signed_tokens) {
  auto tok = sign_token("secret", 42, 1000);
  BOOST_TEST(verify_token("secret", tok, 1000, 60).value_or(0) == 42u);
  BOOST_TEST(!verify_token("other", tok, 1000, 60));
  BOOST_TEST(!verify_token("secret", tok, 1061, 60)); // too old
  auto forged = tok;
  forged[2] = forged[2] == 'A' ? 'B' : 'A';
  BOOST_TEST(!verify_token("secret", forged, 1000, 60));
  BOOST_TEST(!verify_token("secret", "garbage", 1000, 60));
}

BOOST_AUTO_TEST_CASE(origin_policies) {
  BOOST_TEST(origin_policy::off().allows("http://anything"));
  auto host = origin_policy::host("example.com");
  BOOST_TEST(host.allows("https://example.com:8443"));
  BOOST_TEST(!host.allows("https://evil.com"));
  BOOST_TEST(!host.allows("null"));
  auto list = origin_policy::list(
    {"//example.com", "https://*.good.org", "http://local.host:4000"});
  BOOST_TEST(list.allows("http://example.com"));
  BOOST_TEST(list.allows("https://example.com:9999"));
  BOOST_TEST(list.allows("https://good.org"));
  BOOST_TEST(list.allows("https://a.b.good.org"));
  BOOST_TEST(!list.allows("http://a.good.org"));      // scheme
  BOOST_TEST(!list.allows("https://a.good.org:8443")); // implied port 443
  BOOST_TEST(!list.allows("https://notgood.org"));
  BOOST_TEST(list.allows("http://local.host:4000"));
  BOOST_TEST(!list.allows("http://local.host:4001"));
  BOOST_TEST(!list.allows("garbage"));
}

BOOST_AUTO_TEST_CASE(query_params) {
  auto ps = params::parse("token=a%20b&vsn=2.0.0&user%5Bname%5D=x+y&flag&=v");
  BOOST_TEST(ps.get("token") != nullptr);
  BOOST_TEST(*ps.get("token") == "a b");
  BOOST_TEST(*ps.get("vsn") == "2.0.0");
  BOOST_TEST(*ps.get("user[name]") == "x y");
  BOOST_TEST(ps.contains("flag"));
  BOOST_TEST(ps.get("flag")->empty());
  BOOST_TEST(!ps.contains("missing"));
  BOOST_TEST(*params::parse("bad=%zz").get("bad") == "%zz");
}

BOOST_AUTO_TEST_SUITE_END()
