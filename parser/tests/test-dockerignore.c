#include "tap.h"
TEST(placeholder_dockerignore) { ASSERT_TRUE(1); }
TAP_MAIN(TAP_ENTRY(placeholder_dockerignore))
