#define BOOST_TEST_MODULE fenix_inspect
#include <boost/test/unit_test.hpp>
