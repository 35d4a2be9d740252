#include "apps/fenixctl/render.hpp"

#include <cstdio>
#include <map>
#include <vector>

#include <boost/json.hpp>

namespace json = boost::json;

namespace fenixctl {

namespace {

std::string str(const json::value* v) {
  if (!v || v->is_null())
    return {};
  if (v->is_string())
    return std::string{v->as_string()};
  return json::serialize(*v);
}

int64_t num(const json::value* v) {
  if (!v)
    return 0;
  if (v->is_int64())
    return v->as_int64();
  if (v->is_uint64())
    return static_cast<int64_t>(v->as_uint64());
  if (v->is_double())
    return static_cast<int64_t>(v->as_double());
  return 0;
}

std::string describe(const json::object& o) {
  auto name = str(o.if_contains("name"));
  auto kind = str(o.if_contains("kind"));
  auto id = num(o.if_contains("id"));
  if (name.empty())
    name = "#" + std::to_string(id);
  std::string out = name + " [" + kind;
  if (id != 0)
    out += " #" + std::to_string(id);
  if (auto s = str(o.if_contains("state")); !s.empty())
    out += ", " + s;
  out += ", restarts " + group_digits(num(o.if_contains("restarts")));
  if (auto cr = o.if_contains("child_restarts"); cr && num(cr) > 0)
    out += ", child restarts " + group_digits(num(cr));
  auto kids = o.if_contains("children_count")
                ? static_cast<uint64_t>(num(o.if_contains("children_count")))
                : (o.if_contains("children")
                     ? o.at("children").as_array().size()
                     : 0);
  if (kids > 0)
    out += ", " + group_digits(kids) + (kids == 1 ? " child" : " children");
  out += "]";
  // One detail that tells the actor apart.
  if (auto s = str(o.if_contains("strategy")); !s.empty())
    out += " " + s;
  if (auto p = str(o.if_contains("peer")); !p.empty())
    out += " " + p;
  if (auto t = o.if_contains("topics"); t && t->is_array() && kind == "connection") {
    std::string topics;
    for (auto& x : t->as_array())
      topics += (topics.empty() ? "" : ",") + str(&x);
    if (!topics.empty())
      out += " " + topics;
  }
  return out;
}

void render_rec(std::string& out, const json::object& o,
                const std::string& prefix, bool last, bool root,
                size_t max_children) {
  if (!root)
    out += prefix + (last ? "└─ " : "├─ ");
  out += describe(o) + "\n";
  auto child_prefix = root ? prefix : prefix + (last ? "   " : "│  ");
  std::vector<const json::object*> kids;
  if (auto c = o.if_contains("children"); c && c->is_array())
    for (auto& k : c->as_array())
      if (k.is_object())
        kids.push_back(&k.as_object());
  // What is not shown, per kind, in first-seen order of kinds.
  std::vector<std::pair<std::string, uint64_t>> more;
  auto add_more = [&more](const std::string& kind, uint64_t n) {
    for (auto& m : more)
      if (m.first == kind) {
        m.second += n;
        return;
      }
    more.emplace_back(kind, n);
  };
  auto shown = max_children == 0 ? kids.size()
                                 : std::min(max_children, kids.size());
  for (size_t i = shown; i < kids.size(); ++i)
    add_more(str(kids[i]->if_contains("kind")), 1);
  if (auto om = o.if_contains("omitted"); om && om->is_object())
    for (auto& kv : om->as_object())
      add_more(std::string{kv.key()}, num(&kv.value()));
  for (size_t i = 0; i < shown; ++i)
    render_rec(out, *kids[i], child_prefix, i + 1 == shown && more.empty(),
               false, max_children);
  for (size_t i = 0; i < more.size(); ++i)
    out += child_prefix + (i + 1 == more.size() ? "└─ " : "├─ ") + "… "
           + group_digits(more[i].second) + " more " + more[i].first + "\n";
}

} // namespace

std::string group_digits(uint64_t n) {
  auto s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string render_tree(const json::value& root, size_t max_children) {
  std::string out;
  if (root.is_object())
    render_rec(out, root.as_object(), "", true, true, max_children);
  return out;
}

std::string render_stats(const json::value& v) {
  std::string out;
  if (!v.is_object())
    return out;
  auto line = [&out](const std::string& k, const json::value& x) {
    std::string val;
    if (x.is_double()) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.1f", x.as_double());
      val = buf;
    } else if (x.is_int64() || x.is_uint64()) {
      val = group_digits(static_cast<uint64_t>(num(&x)));
    } else if (x.is_string()) {
      val = std::string{x.as_string()};
    } else {
      val = json::serialize(x);
    }
    std::string key = k;
    key.resize(std::max<size_t>(key.size() + 2, 22), ' ');
    out += key + val + "\n";
  };
  for (auto& kv : v.as_object()) {
    if (kv.value().is_object()) {
      for (auto& inner : kv.value().as_object())
        line(std::string{kv.key()} + "." + std::string{inner.key()},
             inner.value());
    } else {
      line(std::string{kv.key()}, kv.value());
    }
  }
  return out;
}

} // namespace fenixctl
