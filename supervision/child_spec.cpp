#include "supervision/child_spec.hpp"

namespace fenix {

const char* to_string(restart_type x) {
  switch (x) {
    case restart_type::permanent: return "permanent";
    case restart_type::transient: return "transient";
    case restart_type::temporary: return "temporary";
  }
  return "?";
}

const char* to_string(child_type x) {
  return x == child_type::supervisor ? "supervisor" : "worker";
}

const char* to_string(strategy x) {
  switch (x) {
    case strategy::one_for_one: return "one_for_one";
    case strategy::one_for_all: return "one_for_all";
    case strategy::rest_for_one: return "rest_for_one";
  }
  return "?";
}

const char* to_string(auto_shutdown_mode x) {
  switch (x) {
    case auto_shutdown_mode::never: return "never";
    case auto_shutdown_mode::any_significant: return "any_significant";
    case auto_shutdown_mode::all_significant: return "all_significant";
  }
  return "?";
}

child_spec worker(std::string id, start_fn f, restart_type restart) {
  child_spec spec;
  spec.id = std::move(id);
  spec.start = std::move(f);
  spec.restart = restart;
  return spec;
}

} // namespace fenix
