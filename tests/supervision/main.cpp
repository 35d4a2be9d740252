#define BOOST_TEST_MODULE fenix_supervision
#include <boost/test/unit_test.hpp>
