// The wire side of presence: the presence_diff payloads clients apply and
// the phx_ref strings that identify metas (protocol.md 4.1-4.2).
#include "channels/presence_state.hpp"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include <chrono>

namespace fenix::channels {

namespace json = boost::json;

namespace {

json::string_view jsv(std::string_view s) noexcept {
  return {s.data(), s.size()};
}

/// Appends `meta` to `side[key]["metas"]`.
void add_meta(json::object& side, std::string_view key,
              const json::object& meta) {
  auto& slot = side[jsv(key)];
  if (!slot.is_object())
    slot = json::object{{"metas", json::array{}}};
  slot.get_object()["metas"].get_array().emplace_back(meta);
}

} // namespace

// -- presence_element ---------------------------------------------------------

std::string_view presence_element::phx_ref() const noexcept {
  if (auto* v = meta.if_contains("phx_ref"); v && v->is_string())
    return {v->get_string().data(), v->get_string().size()};
  return {};
}

// -- diffs --------------------------------------------------------------------

json::object make_diff(const presence_changes& changes,
                       std::string_view topic) {
  json::object joins;
  json::object leaves;
  for (const auto& e : changes.joins)
    if (e.topic == topic)
      add_meta(joins, e.key, e.meta);
  for (const auto& e : changes.leaves)
    if (e.topic == topic)
      add_meta(leaves, e.key, e.meta);
  json::object diff;
  diff.emplace("joins", std::move(joins));
  diff.emplace("leaves", std::move(leaves));
  return diff;
}

std::map<std::string, json::object, std::less<>>
make_diffs(const presence_changes& changes) {
  std::map<std::string, json::object, std::less<>> out;
  auto slot = [&out](const std::string& topic) -> json::object& {
    auto i = out.find(topic);
    if (i == out.end())
      i = out.emplace(topic, json::object{{"joins", json::object{}},
                                          {"leaves", json::object{}}})
              .first;
    return i->second;
  };
  for (const auto& e : changes.joins)
    add_meta(slot(e.topic)["joins"].get_object(), e.key, e.meta);
  for (const auto& e : changes.leaves)
    add_meta(slot(e.topic)["leaves"].get_object(), e.key, e.meta);
  return out;
}

// -- phx_ref_generator --------------------------------------------------------

phx_ref_generator::phx_ref_generator(const replica_id& replica) noexcept {
  // FNV-1a over name and vsn: cheap, stable, and good enough to keep the
  // refs of different replicas apart.
  uint32_t h = 2166136261u;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 16777619u;
  };
  for (unsigned char c : replica.name)
    mix(c);
  for (int i = 0; i < 8; ++i)
    mix(static_cast<unsigned char>(replica.vsn >> (8 * i)));
  hash_ = h;
}

std::string phx_ref_generator::next() {
  using namespace std::chrono;
  auto secs = duration_cast<seconds>(system_clock::now().time_since_epoch());
  return encode(static_cast<uint32_t>(secs.count()), hash_, counter_++);
}

std::string phx_ref_generator::encode(uint32_t seconds, uint32_t hash,
                                      uint32_t counter) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "abcdefghijklmnopqrstuvwxyz"
                                     "0123456789-_";
  unsigned char bytes[12];
  for (int i = 0; i < 4; ++i) {
    bytes[i] = static_cast<unsigned char>(seconds >> (24 - 8 * i));
    bytes[4 + i] = static_cast<unsigned char>(hash >> (24 - 8 * i));
    bytes[8 + i] = static_cast<unsigned char>(counter >> (24 - 8 * i));
  }
  // 12 bytes are four 3-byte groups: exactly 16 characters, no padding.
  std::string out(16, '\0');
  for (int g = 0; g < 4; ++g) {
    uint32_t n = (uint32_t{bytes[3 * g]} << 16) |
                 (uint32_t{bytes[3 * g + 1]} << 8) | bytes[3 * g + 2];
    for (int k = 0; k < 4; ++k)
      out[4 * g + k] = alphabet[(n >> (18 - 6 * k)) & 0x3F];
  }
  return out;
}

} // namespace fenix::channels
