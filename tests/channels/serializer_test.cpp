#include "channels/serializer.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <new>
#include <ostream>
#include <string>
#include <string_view>

using namespace fenix::channels;
using namespace std::string_literals;
namespace json = boost::json;
using fenix::transport::opcode;

namespace fenix::channels {

// Lets BOOST_TEST print results (found by ADL).
template <class T>
std::ostream& operator<<(std::ostream& os, const result<T>& r) {
  return os << (r ? "value" : "error: " + r.error().reason);
}

} // namespace fenix::channels

namespace {

json::value j(std::string_view s) {
  return json::parse(json::string_view{s.data(), s.size()});
}

const json::value null_v;

/// The payload of a successful text encoding.
std::string text_of(const encode_result& r) {
  BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().reason));
  BOOST_TEST_REQUIRE((*r)->is_text());
  return std::string{(*r)->payload()};
}

/// The payload of a successful binary encoding.
std::string bytes_of(const encode_result& r) {
  BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().reason));
  BOOST_TEST_REQUIRE(!(*r)->is_text());
  return std::string{(*r)->payload()};
}

std::string error_of(const decode_result& r) {
  BOOST_TEST_REQUIRE(!r.has_value());
  return r.error().reason;
}

// The worked examples of protocol.md 1.4.
const auto client_push_bytes = "\x00\x02\x03\x05\x05"
                               "12"
                               "123"
                               "topic"
                               "event"
                               "efg"s;
const auto reply_bytes = "\x01\x02\x03\x05\x02"
                         "12"
                         "123"
                         "topic"
                         "ok"
                         "efg"s;
const auto broadcast_bytes = "\x02\x05\x05"
                             "topic"
                             "event"
                             "efg"s;

} // namespace

// -- V2 JSON encoding ---------------------------------------------------------

BOOST_AUTO_TEST_SUITE(v2_json_encoding)

BOOST_AUTO_TEST_CASE(heartbeat_reply) {
  BOOST_TEST(text_of(v2_json().encode_heartbeat_reply(json::value("5"))) ==
             R"([null,"5","phoenix","phx_reply",)"
             R"({"status":"ok","response":{}}])");
}

BOOST_AUTO_TEST_CASE(reply_with_response) {
  BOOST_TEST(text_of(v2_json().encode_reply(
                 j(R"("1")"), j(R"("2")"), "room:lobby", "ok",
                 j(R"({"a":1})"))) == R"(["1","2","room:lobby","phx_reply",)"
                                      R"({"status":"ok","response":{"a":1}}])");
}

BOOST_AUTO_TEST_CASE(reply_response_may_be_any_json) {
  BOOST_TEST(text_of(v2_json().encode_reply(j(R"("1")"), j(R"("2")"), "t",
                                            "error", j(R"([1,"x"])"))) ==
             R"(["1","2","t","phx_reply",)"
             R"({"status":"error","response":[1,"x"]}])");
}

BOOST_AUTO_TEST_CASE(unmatched_topic_reply_has_null_join_ref) {
  BOOST_TEST(text_of(v2_json().encode_unmatched_topic(j(R"("7")"), "nope")) ==
             R"([null,"7","nope","phx_reply",)"
             R"({"status":"error","response":{"reason":"unmatched topic"}}])");
}

BOOST_AUTO_TEST_CASE(error_reply) {
  BOOST_TEST(text_of(v2_json().encode_error_reply(j(R"("1")"), j(R"("1")"),
                                                  "room:1", "join crashed")) ==
             R"(["1","1","room:1","phx_reply",)"
             R"({"status":"error","response":{"reason":"join crashed"}}])");
}

BOOST_AUTO_TEST_CASE(push_has_null_ref) {
  json::object payload{{"body", "hi"}};
  BOOST_TEST(text_of(v2_json().encode_push(j(R"("1")"), "room:lobby", "new_msg",
                                           payload)) ==
             R"(["1",null,"room:lobby","new_msg",{"body":"hi"}])");
}

BOOST_AUTO_TEST_CASE(broadcast_has_null_refs) {
  BOOST_TEST(text_of(v2_json().encode_broadcast("room:lobby", "shout",
                                                j(R"({"x":true})"))) ==
             R"([null,null,"room:lobby","shout",{"x":true}])");
}

BOOST_AUTO_TEST_CASE(phx_error_and_phx_close_repeat_join_ref) {
  BOOST_TEST(text_of(v2_json().encode_phx_error(j(R"("3")"), "room:1")) ==
             R"(["3","3","room:1","phx_error",)"
             R"({"reason":"channel_crash"}])");
  BOOST_TEST(text_of(v2_json().encode_phx_close(j(R"("3")"), "room:1")) ==
             R"(["3","3","room:1","phx_close",{}])");
  BOOST_TEST(text_of(v2_json().encode_phx_close(null_v, "room:1")) ==
             R"([null,null,"room:1","phx_close",{}])");
}

BOOST_AUTO_TEST_CASE(owning_structs) {
  reply r{j(R"("1")"), j(R"("2")"), "t", "ok", json::value(json::object{})};
  BOOST_TEST(text_of(v2_json().encode(r)) ==
             R"(["1","2","t","phx_reply",{"status":"ok","response":{}}])");
  push p{j(R"("1")"), nullptr, "t", "e", json::value(json::object{})};
  BOOST_TEST(text_of(v2_json().encode(p)) == R"(["1",null,"t","e",{}])");
  broadcast b{"t", "e", binary_payload{"xy"}};
  BOOST_TEST(bytes_of(v2_json().encode(b)) == "\x02\x01\x01texy");
}

BOOST_AUTO_TEST_CASE(strings_are_escaped_like_boost_json) {
  auto topic = "a\"b\\c\nd\x01\x1f/\xc3\xa9"s;
  auto payload = j(R"({"k\"":"\t\u0000x","n":[1,-2,3.5,1e300,true,null,
                   18446744073709551615,-9223372036854775808,{}],
                   "u":"\u00e9\ud83d\ude00"})");
  json::array expected{nullptr, nullptr, json::string(topic), "ev", payload};
  BOOST_TEST(text_of(v2_json().encode_broadcast(topic, "ev", payload)) ==
             json::serialize(expected));
}

BOOST_AUTO_TEST_CASE(large_payload_gets_a_long_websocket_header) {
  json::object payload{{"blob", std::string(70000, 'x')}};
  auto r = v2_json().encode_broadcast("t", "e", payload);
  auto body = text_of(r);
  BOOST_TEST(body.size() == 70000u + 31);
  auto wire = (*r)->wire();
  BOOST_TEST(wire.size() == body.size() + 10);
  BOOST_TEST(static_cast<unsigned char>(wire[0]) == 0x81u); // FIN + text
  BOOST_TEST(static_cast<unsigned char>(wire[1]) == 127u);
  BOOST_TEST(wire.substr(10) == body);
}

BOOST_AUTO_TEST_CASE(text_frame_wire_header) {
  auto r = v2_json().encode_heartbeat_reply(j(R"("5")"));
  auto wire = (*r)->wire();
  BOOST_TEST(static_cast<unsigned char>(wire[0]) == 0x81u);
  BOOST_TEST(static_cast<unsigned char>(wire[1]) == (*r)->payload_size());
}

BOOST_AUTO_TEST_CASE(push_and_broadcast_payloads_must_be_objects) {
  BOOST_TEST(!v2_json().encode_push(null_v, "t", "e", j("[1]")));
  BOOST_TEST(!v2_json().encode_broadcast("t", "e", j(R"("s")")));
  BOOST_TEST(!v2_json().encode_push(null_v, "t", "e", null_v));
}

BOOST_AUTO_TEST_CASE(broadcast_encoding_is_deterministic) {
  auto p = j(R"({"a":[1,2,{"b":"c"}]})");
  BOOST_TEST(text_of(v2_json().encode_broadcast("t", "e", p)) ==
             text_of(v2_json().encode_broadcast("t", "e", p)));
}

BOOST_AUTO_TEST_SUITE_END()

// -- V2 JSON decoding ---------------------------------------------------------

BOOST_AUTO_TEST_SUITE(v2_json_decoding)

BOOST_AUTO_TEST_CASE(phoenix_js_join) {
  auto r = v2_json().decode(R"(["3","3","room:lobby","phx_join",{"a":1}])",
                            opcode::text);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->join_ref == j(R"("3")"));
  BOOST_TEST(r->ref == j(R"("3")"));
  BOOST_TEST(r->topic == "room:lobby");
  BOOST_TEST(r->event == "phx_join");
  BOOST_TEST_REQUIRE(!r->has_binary_payload());
  BOOST_TEST(std::get<json::value>(r->payload) == j(R"({"a":1})"));
}

BOOST_AUTO_TEST_CASE(extra_elements_are_ignored) {
  auto r = v2_json().decode(R"([null,"1","t","e",{},"extra",7])", opcode::text);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->join_ref.is_null());
  BOOST_TEST(r->event == "e");
}

BOOST_AUTO_TEST_CASE(client_payload_may_be_any_json) {
  for (auto p : {R"("s")", "[1,2]", "null", "42"}) {
    auto r =
        v2_json().decode("[null,null,\"t\",\"e\","s + p + "]", opcode::text);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(std::get<json::value>(r->payload) == j(p));
  }
}

BOOST_AUTO_TEST_CASE(refs_of_any_json_type_round_trip) {
  for (auto ref : {R"("12")", "12", "-3", "true", "null", R"(["a",1])",
                   R"({"x":"y"})", R"("")"}) {
    auto in = "["s + ref + "," + ref + R"(,"t","ping",{}])";
    auto msg = v2_json().decode(in, opcode::text);
    BOOST_TEST_REQUIRE(msg.has_value());
    auto out = v2_json().encode_reply(msg->join_ref, msg->ref, msg->topic, "ok",
                                      json::object{});
    BOOST_TEST(text_of(out) ==
               "["s + ref + "," + ref +
                   R"(,"t","phx_reply",{"status":"ok","response":{}}])");
  }
}

BOOST_AUTO_TEST_CASE(round_trips_through_encode) {
  auto p = j(R"({"body":"hé","n":[1,2]})");
  auto frame =
      v2_json().encode_push(j(R"("9")"), j(R"("10")"), "room:x", "evt", p);
  auto back = v2_json().decode(text_of(frame), opcode::text);
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST(back->join_ref == j(R"("9")"));
  BOOST_TEST(back->ref == j(R"("10")"));
  BOOST_TEST(back->topic == "room:x");
  BOOST_TEST(back->event == "evt");
  BOOST_TEST(std::get<json::value>(back->payload) == p);

  auto rep = v2_json().decode(
      text_of(v2_json().encode_reply(j("1"), j("2"), "t", "ok", p)),
      opcode::text);
  BOOST_TEST_REQUIRE(rep.has_value());
  BOOST_TEST(rep->event == "phx_reply");
  BOOST_TEST(std::get<json::value>(rep->payload) ==
             (json::object{{"status", "ok"}, {"response", p}}));
}

BOOST_AUTO_TEST_CASE(malformed_input_is_an_error) {
  for (auto bad : {"", "not json", "[null,", R"({"topic":"t"})", R"("str")",
                   "42", "null", "[]", R"([null,null,"t","e"])",
                   R"([null,null,1,"e",{}])", R"([null,null,"t",null,{}])",
                   R"([null,null,"t","e",{}]trailing)", "\xff\xfe"}) {
    BOOST_TEST_CONTEXT("input: " << bad) {
      auto r = v2_json().decode(bad, opcode::text);
      BOOST_TEST(!r.has_value());
      BOOST_TEST(!error_of(r).empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(control_frames_are_not_messages) {
  auto close = static_cast<opcode>(0x8);
  BOOST_TEST(error_of(v2_json().decode("[]", close)) == "not a data frame");
  BOOST_TEST(error_of(v1_json().decode("{}", close)) == "not a data frame");
}

BOOST_AUTO_TEST_CASE(error_reasons_name_the_problem) {
  BOOST_TEST(error_of(v2_json().decode("[1,2]", opcode::text)) ==
             "V2 message has fewer than 5 elements");
  BOOST_TEST(error_of(v2_json().decode("{}", opcode::text)) ==
             "V2 message is not a JSON array");
  BOOST_TEST(error_of(v2_json().decode("nope", opcode::text))
                 .rfind("invalid JSON", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- V2 binary ----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(v2_binary)

BOOST_AUTO_TEST_CASE(decode_client_push_worked_example) {
  auto r = v2_json().decode(client_push_bytes, opcode::binary);
  BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().reason));
  BOOST_TEST(r->join_ref == j(R"("12")"));
  BOOST_TEST(r->ref == j(R"("123")"));
  BOOST_TEST(r->topic == "topic");
  BOOST_TEST(r->event == "event");
  BOOST_TEST_REQUIRE(r->has_binary_payload());
  BOOST_TEST(std::get<binary_payload>(r->payload).bytes == "efg");
}

BOOST_AUTO_TEST_CASE(encode_client_push_worked_example) {
  auto r = encode_client_binary(j(R"("12")"), j(R"("123")"), "topic", "event",
                                "efg");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(*r == client_push_bytes);
}

BOOST_AUTO_TEST_CASE(reply_worked_example) {
  auto msg = v2_json().decode(client_push_bytes, opcode::binary);
  BOOST_TEST_REQUIRE(msg.has_value());
  auto r = v2_json().encode_reply(msg->join_ref, msg->ref, msg->topic, "ok",
                                  binary_view{"efg"});
  BOOST_TEST(bytes_of(r) == reply_bytes);
  BOOST_TEST(static_cast<unsigned char>((*r)->wire()[0]) == 0x82u);

  auto back = decode_server_binary(reply_bytes);
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST((back->kind == binary_kind::reply));
  BOOST_TEST(back->join_ref == j(R"("12")"));
  BOOST_TEST(back->ref == j(R"("123")"));
  BOOST_TEST(back->topic == "topic");
  BOOST_TEST(back->event == "phx_reply");
  BOOST_TEST(back->status == "ok");
  BOOST_TEST(back->bytes == "efg");
}

BOOST_AUTO_TEST_CASE(broadcast_worked_example) {
  auto r = v2_json().encode_broadcast("topic", "event", binary_view{"efg"});
  BOOST_TEST(bytes_of(r) == broadcast_bytes);
  auto back = decode_server_binary(broadcast_bytes);
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST((back->kind == binary_kind::broadcast));
  BOOST_TEST(back->join_ref.is_null());
  BOOST_TEST(back->ref.is_null());
  BOOST_TEST(back->topic == "topic");
  BOOST_TEST(back->event == "event");
  BOOST_TEST(back->bytes == "efg");
}

BOOST_AUTO_TEST_CASE(server_push_has_four_byte_header_and_no_ref) {
  // The ref is dropped: the server push layout has no slot for it.
  auto r = v2_json().encode_push(j(R"("12")"), j(R"("99")"), "topic", "event",
                                 binary_view{"efg"});
  auto expected = "\x00\x02\x05\x05"
                  "12topicevent"
                  "efg"s;
  BOOST_TEST(bytes_of(r) == expected);
  auto back = decode_server_binary(expected);
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST((back->kind == binary_kind::push));
  BOOST_TEST(back->join_ref == j(R"("12")"));
  BOOST_TEST(back->ref.is_null());
  BOOST_TEST(back->bytes == "efg");
}

BOOST_AUTO_TEST_CASE(null_refs_are_empty_and_decode_as_null) {
  auto r =
      v2_json().encode_reply(null_v, j(R"("5")"), "t", "ok", binary_view{""});
  BOOST_TEST(bytes_of(r) == "\x01\x00\x01\x01\x02"
                            "5tok"s);
  auto in = "\x00\x00\x00\x01\x01te"s;
  auto msg = v2_json().decode(in, opcode::binary);
  BOOST_TEST_REQUIRE(msg.has_value());
  BOOST_TEST(msg->join_ref.is_null());
  BOOST_TEST(msg->ref.is_null());
  BOOST_TEST(std::get<binary_payload>(msg->payload).bytes.empty());
}

BOOST_AUTO_TEST_CASE(numeric_refs_use_their_json_text) {
  auto r = v2_json().encode_reply(j("12"), j("7"), "t", "ok", binary_view{"x"});
  BOOST_TEST(bytes_of(r) == "\x01\x02\x01\x01\x02"
                            "127tokx"s);
}

BOOST_AUTO_TEST_CASE(payload_bytes_are_opaque) {
  auto bytes = "\x00\xff\x01["s;
  auto in = encode_client_binary(null_v, j(R"("1")"), "t", "e", bytes);
  BOOST_TEST_REQUIRE(in.has_value());
  auto msg = v2_json().decode(*in, opcode::binary);
  BOOST_TEST_REQUIRE(msg.has_value());
  BOOST_TEST(std::get<binary_payload>(msg->payload).bytes == bytes);
}

BOOST_AUTO_TEST_CASE(truncated_frames_are_errors) {
  // Header plus fields of the worked example take 20 bytes; every shorter
  // prefix is truncated, every longer one just has a shorter payload.
  for (size_t n = 0; n < 20; ++n) {
    BOOST_TEST_CONTEXT("prefix length " << n) {
      BOOST_TEST(
          !v2_json().decode(client_push_bytes.substr(0, n), opcode::binary));
    }
  }
  BOOST_TEST(v2_json().decode(client_push_bytes.substr(0, 20), opcode::binary));
  for (size_t n = 0; n < 15; ++n)
    BOOST_TEST(!decode_server_binary(reply_bytes.substr(0, n)));
  for (size_t n = 0; n < 13; ++n)
    BOOST_TEST(!decode_server_binary(broadcast_bytes.substr(0, n)));
}

BOOST_AUTO_TEST_CASE(only_kind_zero_is_accepted_from_clients) {
  for (int kind : {1, 2, 3, 255}) {
    auto in = client_push_bytes;
    in[0] = static_cast<char>(kind);
    BOOST_TEST_CONTEXT("kind " << kind) {
      BOOST_TEST(error_of(v2_json().decode(in, opcode::binary)) ==
                 "unexpected binary frame kind " + std::to_string(kind));
    }
  }
  BOOST_TEST(!decode_server_binary("\x03\x00\x00"s));
}

BOOST_AUTO_TEST_CASE(field_limit_is_255_bytes) {
  auto max = std::string(255, 't');
  auto over = std::string(256, 't');
  auto blob = binary_view{"b"};
  BOOST_TEST(v2_json().encode_broadcast(max, max, blob));
  BOOST_TEST(!v2_json().encode_broadcast(over, "e", blob));
  BOOST_TEST(!v2_json().encode_broadcast("t", over, blob));
  BOOST_TEST(v2_json().encode_push(json::value(max), "t", max, blob));
  BOOST_TEST(!v2_json().encode_push(json::value(over), "t", "e", blob));
  BOOST_TEST(!v2_json().encode_push(null_v, over, "e", blob));
  BOOST_TEST(v2_json().encode_reply(json::value(max), json::value(max), max,
                                    max, blob));
  BOOST_TEST(
      !v2_json().encode_reply(null_v, json::value(over), "t", "ok", blob));
  BOOST_TEST(!v2_json().encode_reply(null_v, null_v, "t", over, blob));
  BOOST_TEST(error_of(v2_json().decode("", opcode::binary)) ==
             "empty binary frame");
  auto r = v2_json().encode_reply(null_v, null_v, over, "ok", blob);
  BOOST_TEST_REQUIRE(!r);
  BOOST_TEST(r.error().reason == "binary frame field topic exceeds 255 bytes");
  BOOST_TEST(!encode_client_binary(null_v, null_v, over, "e", ""));

  // A 255-byte topic, the most a length byte can say, decodes.
  auto in = encode_client_binary(null_v, null_v, max, max, "x");
  BOOST_TEST_REQUIRE(in.has_value());
  auto msg = v2_json().decode(*in, opcode::binary);
  BOOST_TEST_REQUIRE(msg.has_value());
  BOOST_TEST(msg->topic == max);
  BOOST_TEST(msg->event == max);
}

BOOST_AUTO_TEST_SUITE_END()

// -- V1 JSON ------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(v1_json_serializer)

BOOST_AUTO_TEST_CASE(reply_never_carries_join_ref) {
  BOOST_TEST(text_of(v1_json().encode_reply(j(R"("1")"), j(R"("2")"), "room:1",
                                            "ok", json::object{})) ==
             R"({"topic":"room:1","event":"phx_reply",)"
             R"("payload":{"status":"ok","response":{}},"ref":"2"})");
  BOOST_TEST(text_of(v1_json().encode_heartbeat_reply(j(R"("5")"))) ==
             R"({"topic":"phoenix","event":"phx_reply",)"
             R"("payload":{"status":"ok","response":{}},"ref":"5"})");
}

BOOST_AUTO_TEST_CASE(push_and_broadcast_have_null_ref) {
  json::object p{{"a", 1}};
  BOOST_TEST(text_of(v1_json().encode_push(j(R"("1")"), "t", "e", p)) ==
             R"({"topic":"t","event":"e","payload":{"a":1},"ref":null})");
  BOOST_TEST(text_of(v1_json().encode_broadcast("t", "e", p)) ==
             R"({"topic":"t","event":"e","payload":{"a":1},"ref":null})");
}

BOOST_AUTO_TEST_CASE(phx_error_with_null_join_ref) {
  BOOST_TEST(text_of(v1_json().encode_phx_error(null_v, "t")) ==
             R"({"topic":"t","event":"phx_error",)"
             R"("payload":{"reason":"channel_crash"},"ref":null})");
  BOOST_TEST(text_of(v1_json().encode_phx_close(null_v, "t")) ==
             R"({"topic":"t","event":"phx_close","payload":{},"ref":null})");
}

BOOST_AUTO_TEST_CASE(no_binary_frames) {
  BOOST_TEST(!v1_json().encode_broadcast("t", "e", binary_view{"x"}));
  BOOST_TEST(!v1_json().encode_push(null_v, "t", "e", binary_view{"x"}));
  BOOST_TEST(
      !v1_json().encode_reply(null_v, null_v, "t", "ok", binary_view{"x"}));
  BOOST_TEST(error_of(v1_json().decode(client_push_bytes, opcode::binary)) ==
             "V1 serializer has no binary frames");
}

BOOST_AUTO_TEST_CASE(decode) {
  auto r = v1_json().decode(
      R"({"topic":"room:1","event":"phx_join","payload":{"x":1},"ref":"1"})",
      opcode::text);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->join_ref.is_null());
  BOOST_TEST(r->ref == j(R"("1")"));
  BOOST_TEST(r->topic == "room:1");
  BOOST_TEST(r->event == "phx_join");
  BOOST_TEST(std::get<json::value>(r->payload) == j(R"({"x":1})"));

  auto with_jr = v1_json().decode(
      R"({"topic":"t","event":"e","payload":null,"ref":5,"join_ref":"2"})",
      opcode::text);
  BOOST_TEST_REQUIRE(with_jr.has_value());
  BOOST_TEST(with_jr->join_ref == j(R"("2")"));
  BOOST_TEST(with_jr->ref == j("5"));
}

BOOST_AUTO_TEST_CASE(refs_round_trip) {
  for (auto ref : {R"("12")", "12", "null", "[1]"}) {
    auto msg = v1_json().decode(
        R"({"topic":"t","event":"e","payload":{},"ref":)"s + ref + "}",
        opcode::text);
    BOOST_TEST_REQUIRE(msg.has_value());
    BOOST_TEST(text_of(v1_json().encode_reply(msg->join_ref, msg->ref, "t",
                                              "ok", json::object{})) ==
               R"({"topic":"t","event":"phx_reply",)"
               R"("payload":{"status":"ok","response":{}},"ref":)"s +
                   ref + "}");
  }
}

BOOST_AUTO_TEST_CASE(malformed_input_is_an_error) {
  for (auto bad : {"", "nope", R"(["j","r","t","e",{}])", "null",
                   R"({"event":"e","payload":{},"ref":null})",
                   R"({"topic":"t","payload":{},"ref":null})",
                   R"({"topic":"t","event":"e","ref":null})",
                   R"({"topic":"t","event":"e","payload":{}})",
                   R"({"topic":1,"event":"e","payload":{},"ref":null})",
                   R"({"topic":"t","event":[],"payload":{},"ref":null})"}) {
    BOOST_TEST_CONTEXT("input: " << bad) {
      BOOST_TEST(!v1_json().decode(bad, opcode::text));
    }
  }
  BOOST_TEST(error_of(v1_json().decode(R"({"topic":"t","event":"e",)"
                                       R"("payload":{}})",
                                       opcode::text)) ==
             R"(V1 message lacks key "ref")");
}

BOOST_AUTO_TEST_SUITE_END()

// -- negotiation --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(vsn_negotiation) {
  const serializer* v1 = &v1_json();
  const serializer* v2 = &v2_json();
  struct row {
    const char* vsn;
    const serializer* expected;
  };
  BOOST_TEST(negotiate(std::nullopt) == v1);
  for (auto [vsn, expected] : {
           row{"1.0.0", v1},           row{"1.0.7", v1},
           row{"1.0.1-beta", v1},      row{"1.0.0+build.5", v1},
           row{"2.0.0", v2},           row{"2.0.3", v2},
           row{"2.0.0+x", v2},         row{"2.0.1-rc.1", v2},
           row{"1.0.0-rc", nullptr},   row{"2.0.0-rc.1", nullptr},
           row{"1.1.0", nullptr},      row{"2.1.0", nullptr},
           row{"3.0.0", nullptr},      row{"0.9.0", nullptr},
           row{"123.1.1", nullptr},    row{"2", nullptr},
           row{"2.0", nullptr},        row{"", nullptr},
           row{"v2.0.0", nullptr},     row{" 2.0.0", nullptr},
           row{"2.0.0 ", nullptr},     row{"02.0.0", nullptr},
           row{"2.00.0", nullptr},     row{"2.0.0-", nullptr},
           row{"2.0.0+", nullptr},     row{"2.0.0-01", nullptr},
           row{"2.0.0-a..b", nullptr}, row{"2.0.x", nullptr},
       }) {
    BOOST_TEST_CONTEXT("vsn \"" << vsn << '"') {
      BOOST_TEST(negotiate(std::string_view{vsn}) == expected);
    }
  }
  BOOST_TEST(v1->version() == "1.0.0");
  BOOST_TEST(v2->version() == "2.0.0");
}

// -- allocation count ---------------------------------------------------------

namespace {

thread_local size_t allocations = 0;

} // namespace

void* operator new(size_t n) {
  ++allocations;
  if (auto p = std::malloc(n ? n : 1))
    return p;
  throw std::bad_alloc{};
}

void operator delete(void* p) noexcept {
  std::free(p);
}

void operator delete(void* p, size_t) noexcept {
  std::free(p);
}

BOOST_AUTO_TEST_CASE(encoding_allocates_the_frame_only) {
  // The frame buffer plus the shared frame object: the size bound must cover
  // the output so the buffer never grows, and nothing else may allocate.
  auto payload = j(R"({"body":"a\"b\n\u0001","n":[-9223372036854775808,
                   18446744073709551615,0,-1,10,1e-300,0.1,true,null],
                   "deep":{"x":[{"y":[[]]}]},"u":"\u00e9"})");
  auto jr = j(R"("12")");
  auto ref = j("-42");
  auto warm = v2_json().encode_push(jr, ref, "t", "e", payload);
  for (const serializer* s : {&v1_json(), &v2_json()}) {
    BOOST_TEST_CONTEXT("serializer " << s->version()) {
      auto before = allocations;
      auto f1 = s->encode_broadcast("room:\"1\"", "evt", payload);
      BOOST_TEST(allocations - before == 2u);
      before = allocations;
      auto f2 = s->encode_push(jr, ref, "room:1", "evt", payload);
      BOOST_TEST(allocations - before == 2u);
      before = allocations;
      auto f3 = s->encode_reply(jr, ref, "room:1", "ok", payload);
      BOOST_TEST(allocations - before == 2u);
      BOOST_TEST(f1.has_value());
      BOOST_TEST(f2.has_value());
      BOOST_TEST(f3.has_value());
    }
  }
  auto before = allocations;
  auto b = v2_json().encode_reply(jr, ref, "t", "ok", binary_view{"xyz"});
  BOOST_TEST(allocations - before == 2u);
}
