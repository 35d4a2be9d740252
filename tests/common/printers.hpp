#pragma once

// Lets BOOST_TEST print CAF and fenix values when a comparison fails
// (Boost.Test needs operator<< or boost_test_print_type found by ADL).

#include <chrono>
#include <ostream>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <caf/none.hpp>
#include <caf/sec.hpp>
#include <caf/exit_reason.hpp>

#include "actors/errors.hpp"

namespace caf {

inline std::ostream& boost_test_print_type(std::ostream& os, const error& x) {
  return os << to_string(x);
}

inline std::ostream& boost_test_print_type(std::ostream& os, const actor& x) {
  return os << "actor#" << x.id();
}

inline std::ostream& boost_test_print_type(std::ostream& os,
                                           const actor_addr& x) {
  return os << "addr#" << x.id();
}

inline std::ostream& boost_test_print_type(std::ostream& os, const none_t&) {
  return os << "none";
}

inline std::ostream& boost_test_print_type(std::ostream& os,
                                           const exit_reason& x) {
  return os << to_string(x);
}

inline std::ostream& boost_test_print_type(std::ostream& os, const sec& x) {
  return os << to_string(x);
}

} // namespace caf

namespace fenix {

inline std::ostream& boost_test_print_type(std::ostream& os, const errc& x) {
  return os << to_string(x);
}

} // namespace fenix

namespace std::chrono {

template <class Rep, class Period>
std::ostream& boost_test_print_type(std::ostream& os,
                                    const duration<Rep, Period>& x) {
  return os << duration_cast<microseconds>(x).count() << "us";
}

} // namespace std::chrono
