// The Prometheus text format: the writer's escaping and naming rules, and
// the checker the /metrics tests use (tested on known-bad input too).
#include <cmath>

#include <boost/test/unit_test.hpp>

#include "tests/inspect/prometheus_check.hpp"
#include "transport/inspect/prometheus.hpp"

using namespace fenix::inspection;
using fenix::test::check_prometheus;

BOOST_AUTO_TEST_SUITE(prometheus_suite)

BOOST_AUTO_TEST_CASE(escaping_and_names) {
  using w = prometheus_writer;
  BOOST_TEST(w::escape_label_value(R"(a"b\c)" "\n") == R"(a\"b\\c\n)");
  BOOST_TEST(w::escape_help("x\\y\nz\"q") == "x\\\\y\\nz\"q");
  BOOST_TEST(w::sanitize_name("fenix.x-y:z") == "fenix_x_y:z");
  BOOST_TEST(w::sanitize_name("9lives") == "_lives");
  BOOST_TEST(w::sanitize_label_name("a:b") == "a_b");
  BOOST_TEST(w::sanitize_label_name("__x") == "x__x");
  auto ls = w::parse_stored_labels(R"(supervisor="a "quoted" \ name")");
  BOOST_REQUIRE_EQUAL(ls.size(), 1u);
  BOOST_TEST(ls[0].first == "supervisor");
  BOOST_TEST(ls[0].second == R"(a "quoted" \ name)");
  BOOST_TEST(w::parse_stored_labels("").empty());
}

BOOST_AUTO_TEST_CASE(writer_output_is_valid) {
  prometheus_writer w;
  w.family("fenix_supervisor_restarts", "Restarts\nby \\ supervisor",
           prometheus_writer::type::counter); // gets _total
  w.sample({{"supervisor", "pool \"A\"\\\nB"}}, int64_t{3});
  w.sample({{"supervisor", "plain"}}, int64_t{0});
  w.family("fenix_load", "A gauge", prometheus_writer::type::gauge);
  w.sample({}, 0.5);
  w.sample({{"kind", "nan"}}, std::nan(""));
  // A second family of the same name is dropped, not interleaved.
  w.family("fenix_supervisor_restarts_total", "again",
           prometheus_writer::type::counter);
  w.sample(int64_t{99});
  auto text = w.str();
  auto r = check_prometheus(text);
  for (auto& e : r.errors)
    BOOST_ERROR(e);
  BOOST_TEST(r.type("fenix_supervisor_restarts_total") == "counter");
  BOOST_TEST(r.value("fenix_supervisor_restarts_total",
                     {{"supervisor", "pool \"A\"\\\nB"}})
             == 3.0);
  BOOST_TEST(r.value("fenix_load") == 0.5);
  BOOST_TEST(text.find("99") == std::string::npos);
  BOOST_TEST(text.find(
               R"(fenix_supervisor_restarts_total{supervisor="pool \"A\"\\\nB"} 3)")
             != std::string::npos);
  BOOST_TEST(text.find("# HELP fenix_supervisor_restarts_total "
                       "Restarts\\nby \\\\ supervisor\n")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(checker_rejects_bad_expositions) {
  auto bad = [](const std::string& text) {
    return !check_prometheus(text).errors.empty();
  };
  BOOST_TEST(!bad("# HELP a_total x\n# TYPE a_total counter\na_total 1\n"));
  BOOST_TEST(bad("# TYPE a_total counter\na_total 1"));        // no final LF
  BOOST_TEST(bad("# TYPE a counter\na 1\n"));                  // no _total
  BOOST_TEST(bad("a 1\n"));                                    // no TYPE
  BOOST_TEST(bad("# TYPE a gauge\na{x=\"1\\q\"} 1\n"));       // bad escape
  BOOST_TEST(bad("# TYPE a gauge\na{x=\"1} 1\n"));            // unterminated
  BOOST_TEST(bad("# TYPE a gauge\na one\n"));                  // value
  BOOST_TEST(bad("# TYPE a gauge\na 1\na 2\n"));               // duplicate
  BOOST_TEST(bad("# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"y\"} 1\n"));
  BOOST_TEST(bad("# TYPE a gauge\na 1\n# HELP a late\n"));     // HELP after
  BOOST_TEST(bad("# TYPE a gauge\n\na 1\n"));                  // empty line
  BOOST_TEST(bad("# TYPE a gauge\r\na 1\n"));                  // CRLF
  BOOST_TEST(bad("# TYPE 1a gauge\n1a 1\n"));                  // name
}

BOOST_AUTO_TEST_SUITE_END()
