#define BOOST_TEST_MODULE fenix_transport
#include <boost/test/unit_test.hpp>
