#define BOOST_TEST_MODULE fenix_presence
#include <boost/test/unit_test.hpp>
