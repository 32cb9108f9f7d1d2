#include "tap.h"
TEST(placeholder_api) { ASSERT_TRUE(1); }
TAP_MAIN(TAP_ENTRY(placeholder_api))
