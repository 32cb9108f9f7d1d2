#include "tap.h"
TEST(placeholder_fixtures) { ASSERT_TRUE(1); }
TAP_MAIN(TAP_ENTRY(placeholder_fixtures))
