#pragma once

#include <string>

#include <boost/json/value.hpp>

namespace fenixctl {

/// 9985 -> "9,985".
std::string group_digits(uint64_t n);

/// The tree like `tree(1)`: one actor per line (name [kind #id, state,
/// restarts, children]), at most `max_children` children per node (0: all),
/// the rest summarized per kind ("… 9,985 more connection"). Works on
/// trees the server already collapsed (`omitted`) as well.
std::string render_tree(const boost::json::value& root, size_t max_children);

/// The /stats answer as aligned "key  value" lines.
std::string render_stats(const boost::json::value& stats);

} // namespace fenixctl
