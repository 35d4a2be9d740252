#include "actors/system.hpp"

#include <cstdio>
#include <fstream>

#include <boost/test/unit_test.hpp>
#include <caf/all.hpp>

#include "actors/log.hpp"
#include "tests/common/printers.hpp"

using namespace fenix;

namespace {

struct app_config : fenix::config {
  uint16_t port = 4000;
  app_config() {
    opt_group{custom_options_, "global"}.add(port, "port,p", "TCP port");
  }
};

std::vector<char*> argv_of(std::vector<std::string>& args) {
  std::vector<char*> result;
  for (auto& a : args)
    result.push_back(a.data());
  result.push_back(nullptr);
  return result;
}

} // namespace

BOOST_AUTO_TEST_SUITE(system_suite)

BOOST_AUTO_TEST_CASE(boot_reads_flags_and_ini_through_caf) {
  auto ini = std::string{"fenix_system_test.ini"};
  {
    std::ofstream out{ini};
    out << "[scheduler]\nmax-threads=3\n[fenix]\nlog-level=\"warning\"\n";
  }
  // "--port 4123" (space) as well as "--x=y"
  std::vector<std::string> args{"prog", "--port", "4123",
                                "--config-file=" + ini};
  auto argv = argv_of(args);
  app_config cfg;
  int seen_port = 0;
  size_t workers = 0;
  auto rc = boot(static_cast<int>(args.size()), argv.data(), cfg,
                 [&](fenix::system& sys) {
                   seen_port = cfg.port;
                   workers = sys.sys().scheduler().num_workers();
                   // the runtime is attached to the system
                   BOOST_TEST(&runtime_of(sys.sys()) == &sys.rt());
                   return 7;
                 });
  std::remove(ini.c_str());
  BOOST_TEST(rc == 7);
  BOOST_TEST(seen_port == 4123);
  BOOST_TEST(workers == 3u);
  BOOST_TEST(cfg.log_level == "warning");
  BOOST_TEST((log::current_level() == log::level::warning));
  log::set_level(log::level::info);
}

BOOST_AUTO_TEST_CASE(default_is_two_scheduler_threads) {
  fenix::config cfg;
  fenix::system sys{cfg};
  BOOST_TEST(sys.sys().scheduler().num_workers() == 2u);
}

BOOST_AUTO_TEST_CASE(cli_overrides_threads_and_bad_options_fail) {
  {
    std::vector<std::string> args{"prog", "--scheduler.max-threads=1"};
    auto argv = argv_of(args);
    fenix::config cfg;
    size_t workers = 0;
    boot(2, argv.data(), cfg, [&](fenix::system& sys) {
      workers = sys.sys().scheduler().num_workers();
      return 0;
    });
    BOOST_TEST(workers == 1u);
  }
  {
    std::vector<std::string> args{"prog", "--no-such-option=1"};
    auto argv = argv_of(args);
    fenix::config cfg;
    bool ran = false;
    auto rc = boot(2, argv.data(), cfg, [&](fenix::system&) {
      ran = true;
      return 0;
    });
    BOOST_TEST(rc == 1);
    BOOST_TEST(!ran);
  }
}

BOOST_AUTO_TEST_CASE(runtime_of_a_foreign_system_is_an_error) {
  caf::actor_system_config cfg;
  caf::actor_system plain{cfg};
  BOOST_CHECK_THROW(runtime_of(plain), std::logic_error);
}

BOOST_AUTO_TEST_SUITE_END()
