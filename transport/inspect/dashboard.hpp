#pragma once

#include <string_view>

namespace fenix::inspection {

/// The dashboard page (dashboard.html, embedded at build time).
std::string_view dashboard_html() noexcept;

} // namespace fenix::inspection
