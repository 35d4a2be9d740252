#define BOOST_TEST_MODULE fenix_actors
#include <boost/test/unit_test.hpp>
