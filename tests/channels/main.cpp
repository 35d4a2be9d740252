#define BOOST_TEST_MODULE fenix_channels
#include <boost/test/unit_test.hpp>
