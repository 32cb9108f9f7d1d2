#include "tap.h"
TEST(placeholder_shell) { ASSERT_TRUE(1); }
TAP_MAIN(TAP_ENTRY(placeholder_shell))
