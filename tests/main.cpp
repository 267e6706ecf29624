// The one translation unit that holds CAF's test runner main().
#include "caf/test/unit_test_impl.hpp"
