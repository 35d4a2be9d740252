#pragma once

#include <string>
#include <string_view>

namespace fenix {

/// Appends `s` as a JSON string: quoted, with `"`, `\` and control
/// characters escaped (short forms where JSON has them, `\u00XX` for the
/// rest); UTF-8 passes through as it is. Plain C++: usable from the
/// transport's Asio-only files as well as from the actor tree.
void append_json_string(std::string& out, std::string_view s);

} // namespace fenix
