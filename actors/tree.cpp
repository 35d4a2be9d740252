#include "actors/tree.hpp"
#include "actors/json_text.hpp"

#include <algorithm>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <caf/abstract_actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_control_block.hpp>

namespace fenix {

const char* to_string(actor_state x) {
  switch (x) {
    case actor_state::starting: return "starting";
    case actor_state::running: return "running";
    case actor_state::restarting: return "restarting";
    case actor_state::stopping: return "stopping";
  }
  return "?";
}

// -- actor_info ---------------------------------------------------------------

size_t actor_info::size() const {
  size_t n = 1;
  for (auto& c : children)
    n += c.size();
  return n;
}

const actor_info* actor_info::find(caf::actor_id x) const {
  if (id == x)
    return this;
  for (auto& c : children)
    if (auto r = c.find(x))
      return r;
  return nullptr;
}

const actor_info* actor_info::find(const std::string& x) const {
  if (name == x)
    return this;
  for (auto& c : children)
    if (auto r = c.find(x))
      return r;
  return nullptr;
}

void tag_invoke(boost::json::value_from_tag, boost::json::value& jv,
                const actor_info& x) {
  boost::json::object obj;
  obj.reserve(12 + x.details.size());
  obj["id"] = x.id;
  obj["name"] = x.name;
  obj["kind"] = x.kind;
  obj["parent"] = x.parent;
  obj["state"] = to_string(x.state);
  obj["restarts"] = x.restarts;
  obj["started_at"] = x.started_at_ms;
  obj["messages"] = x.messages;
  if (x.mailbox)
    obj["mailbox"] = *x.mailbox;
  else
    obj["mailbox"] = nullptr;
  for (auto& kvp : x.details)
    obj[kvp.key()] = kvp.value();
  boost::json::array children;
  children.reserve(x.children.size());
  for (auto& c : x.children)
    children.push_back(boost::json::value_from(c));
  obj["children"] = std::move(children);
  jv = std::move(obj);
}

namespace {

void render_rec(std::string& out, const actor_info& x,
                const std::string& prefix, bool last, bool root) {
  if (!root) {
    out += prefix;
    out += last ? "└─ " : "├─ ";
  }
  out += x.name.empty() ? "#" + std::to_string(x.id) : x.name;
  out += " [" + x.kind + " #" + std::to_string(x.id) + ", "
         + to_string(x.state);
  if (x.restarts > 0)
    out += ", restarts " + std::to_string(x.restarts);
  out += "]\n";
  auto child_prefix = root ? prefix : prefix + (last ? "   " : "│  ");
  for (size_t i = 0; i < x.children.size(); ++i)
    render_rec(out, x.children[i], child_prefix, i + 1 == x.children.size(),
               false);
}

} // namespace

std::string render_tree(const actor_info& root) {
  std::string out;
  render_rec(out, root, "", true, true);
  return out;
}

// -- details_writer -----------------------------------------------------------

void details_writer::key(std::string_view k) {
  if (text_.empty())
    text_.reserve(192); // a connection's details, in one allocation
  else
    text_ += ',';
  append_json_string(text_, k);
  text_ += ':';
}

details_writer& details_writer::str(std::string_view k, std::string_view v) {
  key(k);
  append_json_string(text_, v);
  return *this;
}

details_writer& details_writer::num(std::string_view k, int64_t v) {
  key(k);
  text_ += std::to_string(v);
  return *this;
}

details_writer& details_writer::raw(std::string_view k, std::string_view v) {
  key(k);
  text_ += v;
  return *this;
}

details_writer& details_writer::open_array(std::string_view k) {
  key(k);
  text_ += '[';
  first_item_ = true;
  return *this;
}

details_writer& details_writer::item(std::string_view v) {
  if (!first_item_)
    text_ += ',';
  first_item_ = false;
  append_json_string(text_, v);
  return *this;
}

details_writer& details_writer::close_array() {
  text_ += ']';
  return *this;
}

std::string details_writer::text() const {
  std::string out;
  out.reserve(text_.size() + 2);
  out += '{';
  out += text_;
  out += '}';
  return out;
}

// -- actor_tree ---------------------------------------------------------------

struct actor_tree::impl {
  mutable std::mutex mtx;
  std::unordered_map<caf::actor_id, tree_node_ptr> nodes;

  actor_info make_info(const tree_node& n) const {
    actor_info x;
    x.id = n.id;
    x.name = n.name;
    x.kind = n.kind;
    x.parent = n.parent;
    x.state = n.get_state();
    x.restarts = n.restarts.load(std::memory_order_relaxed);
    x.started_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        n.started_at.time_since_epoch())
                        .count();
    x.messages = n.messages.load(std::memory_order_relaxed);
    auto mb = n.mailbox.load(std::memory_order_relaxed);
    if (mb >= 0)
      x.mailbox = mb;
    if (!n.details.empty()) {
      boost::system::error_code ec;
      auto v = boost::json::parse(n.details, ec);
      if (!ec && v.is_object())
        x.details = std::move(v.as_object());
    }
    return x;
  }

  using child_index
    = std::unordered_map<caf::actor_id, std::vector<const tree_node*>>;

  child_index index() const {
    child_index result;
    result.reserve(nodes.size());
    for (auto& [id, n] : nodes)
      result[n->parent].push_back(n.get());
    for (auto& [id, vec] : result)
      std::sort(vec.begin(), vec.end(),
                [](auto a, auto b) { return a->id < b->id; });
    return result;
  }

  actor_info build(const tree_node& n, const child_index& idx) const {
    auto x = make_info(n);
    if (auto i = idx.find(n.id); i != idx.end()) {
      x.children.reserve(i->second.size());
      for (auto c : i->second)
        x.children.push_back(build(*c, idx));
    }
    return x;
  }
};

actor_tree::actor_tree() : impl_(std::make_shared<impl>()) {
  // nop
}

actor_tree::~actor_tree() {
  // Actors that outlive the tree find their cleanup hook pointing at a
  // dead weak_ptr and do nothing.
}

namespace {

void set_place(tree_node& n, std::string name, std::string kind,
               caf::actor_id parent) {
  n.name = std::move(name);
  n.kind = std::move(kind);
  n.parent = parent;
}

} // namespace

tree_node_ptr actor_tree::record(const caf::strong_actor_ptr& hdl) {
  return record_impl(hdl, [](tree_node&) {});
}

tree_node_ptr actor_tree::record(const caf::actor& hdl, std::string name,
                                 std::string kind, caf::actor_id parent) {
  return record_impl(caf::actor_cast<caf::strong_actor_ptr>(hdl),
                     [&](tree_node& n) {
                       set_place(n, std::move(name), std::move(kind), parent);
                     });
}

template <class Place>
tree_node_ptr actor_tree::record_impl(const caf::strong_actor_ptr& hdl,
                                      Place place) {
  if (!hdl)
    return nullptr;
  auto id = hdl->id();
  tree_node_ptr node;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    auto& slot = impl_->nodes[id];
    if (slot) {
      place(*slot);
      return slot;
    }
    slot = std::make_shared<tree_node>(id);
    slot->handle = caf::weak_actor_ptr{hdl.get()};
    place(*slot);
    node = slot;
  }
  std::weak_ptr<impl> weak = impl_;
  // Runs on the exiting actor's thread (or right away if it already quit).
  hdl->get()->attach_functor([weak, id] {
    if (auto self = weak.lock()) {
      std::lock_guard<std::mutex> guard{self->mtx};
      self->nodes.erase(id);
    }
  });
  return node;
}

tree_node_ptr actor_tree::record(const caf::actor& hdl) {
  return record(caf::actor_cast<caf::strong_actor_ptr>(hdl));
}

void actor_tree::place(caf::actor_id id, std::string name, std::string kind,
                       caf::actor_id parent) {
  place(id, std::move(name), std::move(kind), parent, details_writer{});
}

void actor_tree::set_name(caf::actor_id id, std::string name) {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  if (auto i = impl_->nodes.find(id); i != impl_->nodes.end())
    i->second->name = std::move(name);
}

void actor_tree::set_details(caf::actor_id id, boost::json::object details) {
  // Serialized before taking the lock: the lock guards the whole tree.
  auto text = details.empty() ? std::string{} : boost::json::serialize(details);
  std::lock_guard<std::mutex> guard{impl_->mtx};
  if (auto i = impl_->nodes.find(id); i != impl_->nodes.end())
    i->second->details = std::move(text);
}

namespace {

/// One member of a serialized object: `"key":` and the value's bytes.
struct member {
  std::string_view key; // with its quotes and the colon
  std::string_view value;
};

/// Splits an object as Boost.JSON serializes it (no whitespace) into its
/// top-level members without building a DOM: strings are skipped with
/// their escapes, nested objects and arrays by depth. False when `text`
/// is not such an object.
bool split_members(std::string_view text, std::vector<member>& out) {
  out.clear();
  size_t i = 0;
  auto n = text.size();
  auto skip_string = [&] { // at the opening quote
    for (++i; i < n; ++i) {
      if (text[i] == '\\')
        ++i;
      else if (text[i] == '"')
        return ++i, true;
    }
    return false;
  };
  if (n < 2 || text[0] != '{' || text[n - 1] != '}')
    return false;
  i = 1;
  if (text[i] == '}')
    return i + 1 == n;
  for (;;) {
    auto k = i;
    if (i >= n || text[i] != '"' || !skip_string() || i >= n
        || text[i] != ':')
      return false;
    auto v = ++i;
    int depth = 0;
    while (i < n) {
      auto c = text[i];
      if (c == '"') {
        if (!skip_string())
          return false;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0)
          break;
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
      ++i;
    }
    if (i >= n || i == v)
      return false;
    out.push_back({text.substr(k, v - k), text.substr(v, i - v)});
    if (text[i] == '}')
      return i + 1 == n;
    ++i; // ','
  }
}

} // namespace

// Every connection and channel merges details a few times while it starts
// and joins (transport, protocol, topics): on the join path, under the
// tree's global lock. Both sides are therefore merged as serialized text,
// member by member, without parsing either into a DOM; the new members
// are serialized before taking the lock, and the split tables are reused
// per thread.
namespace {

/// Clears the key of every member that a later one repeats; true if any.
bool drop_repeated(std::vector<member>& members) {
  bool any = false;
  for (size_t i = 0; i < members.size(); ++i)
    for (size_t j = i + 1; j < members.size(); ++j)
      if (members[j].key == members[i].key) {
        members[i].key = {};
        any = true;
        break;
      }
  return any;
}

struct merge_scratch {
  std::string add_text;
  std::vector<member> add;
  std::vector<member> cur;

  static merge_scratch& get() {
    thread_local merge_scratch x;
    return x;
  }

  /// False when there is nothing to merge.
  bool prepare(const boost::json::object& details) {
    if (details.empty())
      return false;
    add_text = boost::json::serialize(details);
    return true;
  }

  bool prepare(const details_writer& details) {
    if (details.empty())
      return false;
    add_text.assign(1, '{');
    add_text += details.members();
    add_text += '}';
    return true;
  }

  /// Merges the prepared members into `text` (the tree's lock held). A
  /// key written twice (a details_writer does not refuse it, and a socket
  /// handler may repeat one the transport wrote) keeps its last value, as a
  /// Boost.JSON object would: stored text never holds a key twice, so a
  /// later merge cannot replace one copy and leave a stale one behind.
  void apply(std::string& text) {
    // Details are only ever written here and by set_details, through
    // Boost.JSON or details_writer, so both texts always split.
    if (!split_members(add_text, add)) {
      text.assign(add_text);
      return;
    }
    auto repeated = drop_repeated(add);
    // The first write of an actor's details (most of them) is taken as is.
    auto have_cur = !text.empty() && split_members(text, cur);
    if (!have_cur) {
      if (!repeated) {
        text.assign(add_text);
        return;
      }
      cur.clear();
    }
    // Replaced values take their new text in place; the rest of `add` is
    // appended. Sized exactly: one such string per connection stays.
    size_t size = 1; // '{' (the last ',' becomes '}')
    for (auto& m : cur) {
      for (auto& a : add)
        if (a.key == m.key) {
          m.value = a.value;
          a.key = {};
          break;
        }
      size += m.key.size() + m.value.size() + 1;
    }
    for (auto& a : add)
      if (!a.key.empty())
        size += a.key.size() + a.value.size() + 1;
    std::string out;
    out.reserve(size);
    out += '{';
    for (auto* v : {&cur, &add})
      for (auto& m : *v)
        if (!m.key.empty()) {
          out += m.key;
          out += m.value;
          out += ',';
        }
    out.back() = '}';
    text = std::move(out);
  }
};

} // namespace

template <class Details>
void actor_tree::merge_impl(caf::actor_id id, const Details& details) {
  auto& scratch = merge_scratch::get();
  if (!scratch.prepare(details))
    return;
  std::lock_guard<std::mutex> guard{impl_->mtx};
  if (auto i = impl_->nodes.find(id); i != impl_->nodes.end())
    scratch.apply(i->second->details);
}

void actor_tree::merge_details(caf::actor_id id,
                               const boost::json::object& details) {
  merge_impl(id, details);
}

void actor_tree::merge_details(caf::actor_id id,
                               const details_writer& details) {
  merge_impl(id, details);
}

void actor_tree::place(caf::actor_id id, std::string name, std::string kind,
                       caf::actor_id parent, const details_writer& details) {
  auto& scratch = merge_scratch::get();
  auto merge = scratch.prepare(details);
  std::lock_guard<std::mutex> guard{impl_->mtx};
  if (auto i = impl_->nodes.find(id); i != impl_->nodes.end()) {
    set_place(*i->second, std::move(name), std::move(kind), parent);
    if (merge)
      scratch.apply(i->second->details);
  }
}

tree_node_ptr actor_tree::find(caf::actor_id id) const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  if (auto i = impl_->nodes.find(id); i != impl_->nodes.end())
    return i->second;
  return nullptr;
}

caf::actor actor_tree::handle(caf::actor_id id) const {
  caf::weak_actor_ptr weak;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    auto i = impl_->nodes.find(id);
    if (i == impl_->nodes.end())
      return {};
    weak = i->second->handle;
  }
  if (auto strong = weak.lock())
    return caf::actor_cast<caf::actor>(strong);
  return {};
}

std::optional<caf::actor_id>
actor_tree::find_by_name(const std::string& name) const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  caf::actor_id best = 0;
  for (auto& [id, n] : impl_->nodes)
    if (n->name == name && (best == 0 || id < best))
      best = id;
  if (best == 0)
    return std::nullopt;
  return best;
}

void actor_tree::remove(caf::actor_id id) {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  impl_->nodes.erase(id);
}

std::vector<actor_info> actor_tree::snapshot() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto idx = impl_->index();
  std::vector<actor_info> roots;
  std::vector<const tree_node*> root_nodes;
  for (auto& [id, n] : impl_->nodes)
    if (n->parent == 0 || impl_->nodes.count(n->parent) == 0)
      root_nodes.push_back(n.get());
  std::sort(root_nodes.begin(), root_nodes.end(),
            [](auto a, auto b) { return a->id < b->id; });
  for (auto n : root_nodes)
    roots.push_back(impl_->build(*n, idx));
  return roots;
}

std::optional<actor_info> actor_tree::snapshot(caf::actor_id root) const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto i = impl_->nodes.find(root);
  if (i == impl_->nodes.end())
    return std::nullopt;
  return impl_->build(*i->second, impl_->index());
}

size_t actor_tree::size() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->nodes.size();
}

} // namespace fenix
