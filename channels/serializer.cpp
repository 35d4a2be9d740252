#include "channels/serializer.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <cstring>
#include <new>

namespace fenix::channels {

namespace json = boost::json;
using transport::frame;
using transport::frame_ptr;
using transport::opcode;

namespace {

// -- shared constants ---------------------------------------------------------

const json::value& null_value() noexcept {
  static const json::value v;
  return v;
}

const json::object& empty_object() noexcept {
  static const json::object o;
  return o;
}

codec_error fail(std::string reason) {
  return codec_error{std::move(reason)};
}

// -- output size bounds -------------------------------------------------------

// Encoders reserve an upper bound of the final size up front so the frame
// buffer is allocated exactly once. The bounds follow Boost.JSON's output
// rules (escapes, number formats); if one ever falls short, the writer still
// grows the buffer, it just costs a reallocation.

size_t string_bound(std::string_view s) noexcept {
  size_t n = 2; // quotes
  for (unsigned char c : s) {
    if (c == '"' || c == '\\')
      n += 2;
    else if (c < 0x20)
      // \b \t \n \f \r have short forms, the rest become \u00XX.
      n += (c == '\b' || c == '\t' || c == '\n' || c == '\f' || c == '\r') ? 2
                                                                           : 6;
    else
      n += 1;
  }
  return n;
}

size_t digits(uint64_t x) noexcept {
  size_t n = 1;
  while (x >= 10) {
    x /= 10;
    ++n;
  }
  return n;
}

size_t json_bound(const json::value& v) noexcept;

size_t json_bound(const json::object& o) noexcept {
  size_t n = 2 + (o.empty() ? 0 : o.size() - 1); // braces, commas
  for (const auto& kv : o)
    n += string_bound(kv.key()) + 1 + json_bound(kv.value());
  return n;
}

size_t json_bound(const json::array& a) noexcept {
  size_t n = 2 + (a.empty() ? 0 : a.size() - 1);
  for (const auto& x : a)
    n += json_bound(x);
  return n;
}

size_t json_bound(const json::value& v) noexcept {
  switch (v.kind()) {
  case json::kind::null:
    return 4;
  case json::kind::bool_:
    return 5;
  case json::kind::int64: {
    auto i = v.get_int64();
    // Negate in unsigned arithmetic: -INT64_MIN overflows int64.
    return i < 0 ? 1 + digits(0 - static_cast<uint64_t>(i))
                 : digits(static_cast<uint64_t>(i));
  }
  case json::kind::uint64:
    return digits(v.get_uint64());
  case json::kind::double_:
    return 32; // shortest round-trip form, sign and exponent included
  case json::kind::string:
    return string_bound(v.get_string());
  case json::kind::array:
    return json_bound(v.get_array());
  case json::kind::object:
    return json_bound(v.get_object());
  }
  return 0;
}

size_t json_bound(payload_view p) noexcept {
  return p.which() == payload_view::kind::object ? json_bound(p.object())
                                                 : json_bound(p.value());
}

// -- frame writer -------------------------------------------------------------

/// Appends the parts of one message to a frame buffer whose headroom is
/// already in place; `finish` hands the buffer to the frame without copying.
class frame_writer {
public:
  explicit frame_writer(size_t bound) {
    buf_.reserve(frame::headroom + bound);
    buf_.assign(frame::headroom, '\0');
  }

  void raw(std::string_view s) { buf_.append(s.data(), s.size()); }

  void byte(size_t b) { buf_.push_back(static_cast<char>(b)); }

  void json_string(std::string_view s) {
    auto& sr = tl_serializer();
    sr.reset(json::string_view{s.data(), s.size()});
    drain(sr);
  }

  void json_value(const json::value& v) {
    auto& sr = tl_serializer();
    sr.reset(&v);
    drain(sr);
  }

  void json_value(payload_view p) {
    auto& sr = tl_serializer();
    if (p.which() == payload_view::kind::object)
      sr.reset(&p.object());
    else
      sr.reset(&p.value());
    drain(sr);
  }

  frame_ptr finish(opcode op) { return frame::adopt(op, std::move(buf_)); }

private:
  // One serializer per thread keeps its nesting stack warm between calls.
  static json::serializer& tl_serializer() {
    thread_local json::serializer sr;
    return sr;
  }

  void drain(json::serializer& sr) {
    while (!sr.done()) {
      auto pos = buf_.size();
      auto room = buf_.capacity() - pos;
      if (room < 16)
        room = std::max<size_t>(64, buf_.capacity());
      buf_.resize(pos + room);
      auto out = sr.read(buf_.data() + pos, room);
      buf_.resize(pos + out.size());
    }
  }

  std::string buf_;
};

// -- binary helpers -----------------------------------------------------------

/// The bytes a ref occupies in a binary frame: strings as they are, null as
/// empty, anything else (a client may use numbers) as its JSON text.
std::string_view ref_bytes(const json::value& v, std::string& scratch) {
  if (v.is_string())
    return {v.get_string().data(), v.get_string().size()};
  if (v.is_null())
    return {};
  scratch = json::serialize(v);
  return scratch;
}

json::value ref_from_bytes(std::string_view s) {
  if (s.empty())
    return nullptr;
  return json::string{json::string_view{s.data(), s.size()}};
}

/// Checks the 255-byte field limit; returns the offending field's name.
const char* oversized(
    std::initializer_list<std::pair<const char*, std::string_view>> fields) {
  for (const auto& [name, value] : fields)
    if (value.size() > max_binary_field)
      return name;
  return nullptr;
}

codec_error oversized_error(const char* field) {
  return fail(std::string{"binary frame field "} + field +
              " exceeds 255 bytes");
}

/// Reads the length-prefixed fields of a binary frame: `lens` are the header
/// bytes, the fields follow the header in order and the payload is the rest.
bool split_fields(std::string_view data, size_t header,
                  std::string_view* fields, size_t count,
                  std::string_view& rest) {
  if (data.size() < header)
    return false;
  size_t pos = header;
  for (size_t i = 0; i < count; ++i) {
    auto len = static_cast<unsigned char>(data[1 + i]);
    if (data.size() - pos < len)
      return false;
    fields[i] = data.substr(pos, len);
    pos += len;
  }
  rest = data.substr(pos);
  return true;
}

// -- JSON decoding helpers ----------------------------------------------------

result<json::value> parse_json(std::string_view data) {
  boost::system::error_code ec;
  auto v = json::parse(json::string_view{data.data(), data.size()}, ec);
  if (ec)
    return fail("invalid JSON: " + ec.message());
  return result<json::value>{std::move(v)};
}

std::string to_std(const json::string& s) {
  return std::string{s.data(), s.size()};
}

// -- V1 -----------------------------------------------------------------------

class v1_serializer final : public serializer {
public:
  std::string_view version() const noexcept override { return "1.0.0"; }

  decode_result decode(std::string_view data, opcode op) const override {
    if (op == opcode::binary)
      return fail("V1 serializer has no binary frames");
    if (op != opcode::text)
      return fail("not a data frame");
    auto parsed = parse_json(data);
    if (!parsed)
      return parsed.error();
    auto* obj = parsed->if_object();
    if (!obj)
      return fail("V1 message is not a JSON object");
    message msg;
    for (const char* key : {"topic", "event", "payload", "ref"})
      if (!obj->contains(key))
        return fail(std::string{"V1 message lacks key \""} + key + "\"");
    auto& topic = (*obj)["topic"];
    auto& event = (*obj)["event"];
    if (!topic.is_string())
      return fail("V1 message topic is not a string");
    if (!event.is_string())
      return fail("V1 message event is not a string");
    msg.topic = to_std(topic.get_string());
    msg.event = to_std(event.get_string());
    msg.ref = std::move((*obj)["ref"]);
    msg.payload = std::move((*obj)["payload"]);
    if (auto* jr = obj->if_contains("join_ref"))
      msg.join_ref = std::move(*jr);
    return decode_result{std::move(msg)};
  }

  encode_result encode_reply(const json::value&, const json::value& ref,
                             std::string_view topic, std::string_view status,
                             payload_view response) const override {
    if (response.is_binary())
      return fail("V1 serializer has no binary frames");
    frame_writer w{64 + string_bound(topic) + string_bound(status) +
                   json_bound(response) + json_bound(ref)};
    w.raw(R"({"topic":)");
    w.json_string(topic);
    w.raw(R"(,"event":"phx_reply","payload":{"status":)");
    w.json_string(status);
    w.raw(R"(,"response":)");
    w.json_value(response);
    w.raw(R"(},"ref":)");
    w.json_value(ref);
    w.raw("}");
    return w.finish(opcode::text);
  }

  encode_result encode_push(const json::value&, const json::value& ref,
                            std::string_view topic, std::string_view event,
                            payload_view payload) const override {
    return encode_message(ref, topic, event, payload);
  }

  encode_result encode_broadcast(std::string_view topic, std::string_view event,
                                 payload_view payload) const override {
    return encode_message(null_value(), topic, event, payload);
  }

private:
  static encode_result encode_message(const json::value& ref,
                                      std::string_view topic,
                                      std::string_view event,
                                      payload_view payload) {
    if (payload.is_binary())
      return fail("V1 serializer has no binary frames");
    if (!payload.is_object())
      return fail("push and broadcast payloads must be JSON objects");
    frame_writer w{48 + string_bound(topic) + string_bound(event) +
                   json_bound(payload) + json_bound(ref)};
    w.raw(R"({"topic":)");
    w.json_string(topic);
    w.raw(R"(,"event":)");
    w.json_string(event);
    w.raw(R"(,"payload":)");
    w.json_value(payload);
    w.raw(R"(,"ref":)");
    w.json_value(ref);
    w.raw("}");
    return w.finish(opcode::text);
  }
};

// -- V2 -----------------------------------------------------------------------

class v2_serializer final : public serializer {
public:
  std::string_view version() const noexcept override { return "2.0.0"; }

  decode_result decode(std::string_view data, opcode op) const override {
    if (op == opcode::text)
      return decode_text(data);
    if (op == opcode::binary)
      return decode_binary(data);
    return fail("not a data frame");
  }

  encode_result encode_reply(const json::value& join_ref,
                             const json::value& ref, std::string_view topic,
                             std::string_view status,
                             payload_view response) const override {
    if (response.is_binary())
      return binary_reply(join_ref, ref, topic, status, response.bytes());
    frame_writer w{64 + json_bound(join_ref) + json_bound(ref) +
                   string_bound(topic) + string_bound(status) +
                   json_bound(response)};
    w.raw("[");
    w.json_value(join_ref);
    w.raw(",");
    w.json_value(ref);
    w.raw(",");
    w.json_string(topic);
    w.raw(R"(,"phx_reply",{"status":)");
    w.json_string(status);
    w.raw(R"(,"response":)");
    w.json_value(response);
    w.raw("}]");
    return w.finish(opcode::text);
  }

  encode_result encode_push(const json::value& join_ref, const json::value& ref,
                            std::string_view topic, std::string_view event,
                            payload_view payload) const override {
    if (payload.is_binary())
      return binary_push(join_ref, topic, event, payload.bytes());
    return text_message(join_ref, ref, topic, event, payload);
  }

  encode_result encode_broadcast(std::string_view topic, std::string_view event,
                                 payload_view payload) const override {
    if (payload.is_binary())
      return binary_broadcast(topic, event, payload.bytes());
    return text_message(null_value(), null_value(), topic, event, payload);
  }

private:
  // -- text -------------------------------------------------------------------

  static decode_result decode_text(std::string_view data) {
    auto parsed = parse_json(data);
    if (!parsed)
      return parsed.error();
    auto* arr = parsed->if_array();
    if (!arr)
      return fail("V2 message is not a JSON array");
    if (arr->size() < 5)
      return fail("V2 message has fewer than 5 elements");
    auto& a = *arr;
    if (!a[2].is_string())
      return fail("V2 message topic is not a string");
    if (!a[3].is_string())
      return fail("V2 message event is not a string");
    message msg;
    msg.join_ref = std::move(a[0]);
    msg.ref = std::move(a[1]);
    msg.topic = to_std(a[2].get_string());
    msg.event = to_std(a[3].get_string());
    msg.payload = std::move(a[4]);
    return decode_result{std::move(msg)};
  }

  static encode_result text_message(const json::value& join_ref,
                                    const json::value& ref,
                                    std::string_view topic,
                                    std::string_view event,
                                    payload_view payload) {
    if (!payload.is_object())
      return fail("push and broadcast payloads must be JSON objects");
    frame_writer w{8 + json_bound(join_ref) + json_bound(ref) +
                   string_bound(topic) + string_bound(event) +
                   json_bound(payload)};
    w.raw("[");
    w.json_value(join_ref);
    w.raw(",");
    w.json_value(ref);
    w.raw(",");
    w.json_string(topic);
    w.raw(",");
    w.json_string(event);
    w.raw(",");
    w.json_value(payload);
    w.raw("]");
    return w.finish(opcode::text);
  }

  // -- binary -----------------------------------------------------------------

  static decode_result decode_binary(std::string_view data) {
    if (data.empty())
      return fail("empty binary frame");
    auto kind = static_cast<unsigned char>(data[0]);
    if (kind != static_cast<unsigned char>(binary_kind::push))
      return fail("unexpected binary frame kind " + std::to_string(kind));
    std::string_view f[4];
    std::string_view rest;
    if (!split_fields(data, 5, f, 4, rest))
      return fail("truncated binary frame");
    message msg;
    msg.join_ref = ref_from_bytes(f[0]);
    msg.ref = ref_from_bytes(f[1]);
    msg.topic.assign(f[2]);
    msg.event.assign(f[3]);
    msg.payload = binary_payload{std::string{rest}};
    return decode_result{std::move(msg)};
  }

  static encode_result binary_push(const json::value& join_ref,
                                   std::string_view topic,
                                   std::string_view event,
                                   std::string_view bytes) {
    std::string scratch;
    auto jr = ref_bytes(join_ref, scratch);
    if (auto bad =
            oversized({{"join_ref", jr}, {"topic", topic}, {"event", event}}))
      return oversized_error(bad);
    frame_writer w{4 + jr.size() + topic.size() + event.size() + bytes.size()};
    w.byte(static_cast<size_t>(binary_kind::push));
    w.byte(jr.size());
    w.byte(topic.size());
    w.byte(event.size());
    w.raw(jr);
    w.raw(topic);
    w.raw(event);
    w.raw(bytes);
    return w.finish(opcode::binary);
  }

  static encode_result binary_reply(const json::value& join_ref,
                                    const json::value& ref,
                                    std::string_view topic,
                                    std::string_view status,
                                    std::string_view bytes) {
    std::string scratch1;
    std::string scratch2;
    auto jr = ref_bytes(join_ref, scratch1);
    auto r = ref_bytes(ref, scratch2);
    if (auto bad = oversized({{"join_ref", jr},
                              {"ref", r},
                              {"topic", topic},
                              {"status", status}}))
      return oversized_error(bad);
    frame_writer w{5 + jr.size() + r.size() + topic.size() + status.size() +
                   bytes.size()};
    w.byte(static_cast<size_t>(binary_kind::reply));
    w.byte(jr.size());
    w.byte(r.size());
    w.byte(topic.size());
    w.byte(status.size());
    w.raw(jr);
    w.raw(r);
    w.raw(topic);
    w.raw(status);
    w.raw(bytes);
    return w.finish(opcode::binary);
  }

  static encode_result binary_broadcast(std::string_view topic,
                                        std::string_view event,
                                        std::string_view bytes) {
    if (auto bad = oversized({{"topic", topic}, {"event", event}}))
      return oversized_error(bad);
    frame_writer w{3 + topic.size() + event.size() + bytes.size()};
    w.byte(static_cast<size_t>(binary_kind::broadcast));
    w.byte(topic.size());
    w.byte(event.size());
    w.raw(topic);
    w.raw(event);
    w.raw(bytes);
    return w.finish(opcode::binary);
  }
};

// -- version negotiation ------------------------------------------------------

struct version {
  uint64_t major = 0;
  uint64_t minor = 0;
  uint64_t patch = 0;
  bool pre = false;
};

bool is_ident_char(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c == '-';
}

/// Parses one numeric part without leading zeros, as Elixir's Version does.
bool parse_number(std::string_view& s, uint64_t& out) {
  size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9')
    ++n;
  if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
    return false;
  out = 0;
  for (size_t i = 0; i < n; ++i)
    out = out * 10 + static_cast<uint64_t>(s[i] - '0');
  s.remove_prefix(n);
  return true;
}

/// Dot-separated non-empty identifiers; numeric ones without leading zeros
/// when `numeric_rule` (pre-release) is set.
bool parse_idents(std::string_view s, bool numeric_rule) {
  if (s.empty())
    return false;
  size_t start = 0;
  while (true) {
    auto end = s.find('.', start);
    auto id =
        s.substr(start, end == std::string_view::npos ? end : end - start);
    if (id.empty() || !std::all_of(id.begin(), id.end(), is_ident_char))
      return false;
    bool numeric = std::all_of(id.begin(), id.end(),
                               [](char c) { return c >= '0' && c <= '9'; });
    if (numeric_rule && numeric && id.size() > 1 && id[0] == '0')
      return false;
    if (end == std::string_view::npos)
      return true;
    start = end + 1;
  }
}

/// MAJOR.MINOR.PATCH[-PRE][+BUILD] (Semantic Versioning 2.0.0).
std::optional<version> parse_version(std::string_view s) {
  version v;
  if (!parse_number(s, v.major) || s.empty() || s[0] != '.')
    return std::nullopt;
  s.remove_prefix(1);
  if (!parse_number(s, v.minor) || s.empty() || s[0] != '.')
    return std::nullopt;
  s.remove_prefix(1);
  if (!parse_number(s, v.patch))
    return std::nullopt;
  auto plus = s.find('+');
  auto build =
      plus == std::string_view::npos ? std::string_view{} : s.substr(plus + 1);
  auto core_rest = s.substr(0, plus);
  if (plus != std::string_view::npos && !parse_idents(build, false))
    return std::nullopt;
  if (!core_rest.empty()) {
    if (core_rest[0] != '-' || !parse_idents(core_rest.substr(1), true))
      return std::nullopt;
    v.pre = true;
  }
  return v;
}

/// "~> M.0.0" is ">= M.0.0 and < M.1.0-0": any M.0.x except pre-releases
/// of M.0.0 itself.
bool matches_tilde(const version& v, uint64_t major) {
  return v.major == major && v.minor == 0 && !(v.patch == 0 && v.pre);
}

} // namespace

// -- serializer: convenience encoders -----------------------------------------

serializer::~serializer() = default;

encode_result serializer::encode_push(const json::value& join_ref,
                                      std::string_view topic,
                                      std::string_view event,
                                      payload_view payload) const {
  return encode_push(join_ref, null_value(), topic, event, payload);
}

encode_result serializer::encode(const reply& r) const {
  return encode_reply(r.join_ref, r.ref, r.topic, r.status, r.response);
}

encode_result serializer::encode(const push& p) const {
  return encode_push(p.join_ref, p.ref, p.topic, p.event, p.payload);
}

encode_result serializer::encode(const broadcast& b) const {
  return encode_broadcast(b.topic, b.event, b.payload);
}

encode_result serializer::encode_heartbeat_reply(const json::value& ref) const {
  return encode_reply(null_value(), ref, "phoenix", "ok", empty_object());
}

encode_result serializer::encode_unmatched_topic(const json::value& ref,
                                                 std::string_view topic) const {
  return encode_error_reply(null_value(), ref, topic, "unmatched topic");
}

encode_result serializer::encode_error_reply(const json::value& join_ref,
                                             const json::value& ref,
                                             std::string_view topic,
                                             std::string_view reason) const {
  json::object response;
  response.emplace("reason", json::string_view{reason.data(), reason.size()});
  return encode_reply(join_ref, ref, topic, "error", response);
}

encode_result serializer::encode_phx_error(const json::value& join_ref,
                                           std::string_view topic) const {
  static const json::object payload{{"reason", "channel_crash"}};
  return encode_push(join_ref, join_ref, topic, "phx_error", payload);
}

encode_result serializer::encode_phx_close(const json::value& join_ref,
                                           std::string_view topic) const {
  return encode_push(join_ref, join_ref, topic, "phx_close", empty_object());
}

// -- serializer instances and negotiation -------------------------------------

const serializer& v1_json() noexcept {
  static const v1_serializer instance;
  return instance;
}

const serializer& v2_json() noexcept {
  static const v2_serializer instance;
  return instance;
}

const serializer* negotiate(std::optional<std::string_view> vsn) noexcept {
  if (!vsn)
    return &v1_json();
  auto v = parse_version(*vsn);
  if (!v)
    return nullptr;
  if (matches_tilde(*v, 1))
    return &v1_json();
  if (matches_tilde(*v, 2))
    return &v2_json();
  return nullptr;
}

// -- V2 binary frames, client side --------------------------------------------

result<server_binary_frame> decode_server_binary(std::string_view data) {
  if (data.empty())
    return fail("empty binary frame");
  server_binary_frame out;
  std::string_view f[4];
  std::string_view rest;
  switch (static_cast<unsigned char>(data[0])) {
  case 0: // push: join_ref, topic, event
    if (!split_fields(data, 4, f, 3, rest))
      return fail("truncated binary frame");
    out.kind = binary_kind::push;
    out.join_ref = ref_from_bytes(f[0]);
    out.topic.assign(f[1]);
    out.event.assign(f[2]);
    break;
  case 1: // reply: join_ref, ref, topic, status
    if (!split_fields(data, 5, f, 4, rest))
      return fail("truncated binary frame");
    out.kind = binary_kind::reply;
    out.join_ref = ref_from_bytes(f[0]);
    out.ref = ref_from_bytes(f[1]);
    out.topic.assign(f[2]);
    out.event = "phx_reply";
    out.status.assign(f[3]);
    break;
  case 2: // broadcast: topic, event
    if (!split_fields(data, 3, f, 2, rest))
      return fail("truncated binary frame");
    out.kind = binary_kind::broadcast;
    out.topic.assign(f[0]);
    out.event.assign(f[1]);
    break;
  default:
    return fail("unexpected binary frame kind " +
                std::to_string(static_cast<unsigned char>(data[0])));
  }
  out.bytes.assign(rest);
  return result<server_binary_frame>{std::move(out)};
}

result<std::string> encode_client_binary(const json::value& join_ref,
                                         const json::value& ref,
                                         std::string_view topic,
                                         std::string_view event,
                                         std::string_view bytes) {
  std::string s1;
  std::string s2;
  auto jr = ref_bytes(join_ref, s1);
  auto r = ref_bytes(ref, s2);
  if (auto bad = oversized(
          {{"join_ref", jr}, {"ref", r}, {"topic", topic}, {"event", event}}))
    return oversized_error(bad);
  std::string out;
  out.reserve(5 + jr.size() + r.size() + topic.size() + event.size() +
              bytes.size());
  out.push_back(static_cast<char>(binary_kind::push));
  for (auto f : {jr, r, topic, event})
    out.push_back(static_cast<char>(f.size()));
  for (auto f : {jr, r, topic, event, bytes})
    out.append(f.data(), f.size());
  return result<std::string>{std::move(out)};
}

} // namespace fenix::channels
