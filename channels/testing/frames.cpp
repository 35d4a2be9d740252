#include "channels/testing/frames.hpp"

#include <boost/json/serialize.hpp>

namespace fenix::channels::testing {

namespace json = boost::json;

namespace {

std::string quote(const std::string& s) {
  return json::serialize(json::value(s));
}

std::string text_of(const message_payload& p) {
  if (auto v = std::get_if<json::value>(&p))
    return json::serialize(*v);
  return "<" + std::to_string(std::get<binary_payload>(p).bytes.size()) +
         " bytes>";
}

} // namespace

const char* to_string(frame_kind x) noexcept {
  switch (x) {
  case frame_kind::reply:
    return "reply";
  case frame_kind::push:
    return "push";
  case frame_kind::broadcast:
    return "broadcast";
  case frame_kind::malformed:
    break;
  }
  return "malformed";
}

const json::value& client_frame::value() const {
  if (auto v = std::get_if<json::value>(&payload))
    return *v;
  throw failure("the frame has a binary payload: " + describe());
}

std::string client_frame::describe() const {
  std::string out = "#" + std::to_string(seq) + " socket " +
                    std::to_string(socket) + " " + to_string(kind) + " ";
  if (kind == frame_kind::malformed)
    return out + "(" + error + ") " + (binary ? "<binary>" : wire);
  if (!binary)
    return out + wire;
  out += "<binary> " + json::serialize(join_ref) + " " + json::serialize(ref) +
         " " + quote(topic) + " " + quote(event);
  if (is_reply())
    out += " " + quote(status);
  return out + " " + text_of(payload);
}

const json::value& observed_broadcast::value() const {
  if (auto v = std::get_if<json::value>(&payload))
    return *v;
  throw failure("the broadcast has a binary payload: " + describe());
}

std::string observed_broadcast::describe() const {
  return quote(topic) + " " + quote(event) + " " + text_of(payload);
}

bool subset_match(const json::value& pat, const json::value& actual) {
  if (pat.is_object() && actual.is_object()) {
    auto& have = actual.get_object();
    for (auto& kvp : pat.get_object()) {
      auto x = have.if_contains(kvp.key());
      if (!x || !subset_match(kvp.value(), *x))
        return false;
    }
    return true;
  }
  if (pat.is_array() && actual.is_array()) {
    auto& want = pat.get_array();
    auto& have = actual.get_array();
    if (want.size() != have.size())
      return false;
    for (size_t i = 0; i < want.size(); ++i)
      if (!subset_match(want[i], have[i]))
        return false;
    return true;
  }
  return pat == actual;
}

pattern pattern::exactly(json::value v) {
  pattern p;
  p.kind_ = kind::exact;
  p.value_ = std::move(v);
  return p;
}

pattern pattern::where(std::function<bool(const json::value&)> pred,
                       std::string description) {
  pattern p;
  p.kind_ = kind::pred;
  p.value_ = json::value(std::move(description));
  p.pred_ = std::make_shared<const std::function<bool(const json::value&)>>(
      std::move(pred));
  return p;
}

bool pattern::matches(const message_payload& p) const {
  if (kind_ == kind::any)
    return true;
  auto v = std::get_if<json::value>(&p);
  if (!v)
    return false;
  switch (kind_) {
  case kind::subset:
    return subset_match(value_, *v);
  case kind::exact:
    return value_ == *v;
  case kind::pred:
    return (*pred_)(*v);
  case kind::any:
    break;
  }
  return true;
}

std::string pattern::describe() const {
  switch (kind_) {
  case kind::any:
    return "anything";
  case kind::subset:
    return json::serialize(value_);
  case kind::exact:
    return "exactly " + json::serialize(value_);
  case kind::pred:
    return std::string{value_.get_string()};
  }
  return "";
}

} // namespace fenix::channels::testing
