#include "tap.h"
TEST(x){}
TAP_MAIN(TAP_ENTRY(x))
