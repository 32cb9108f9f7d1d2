/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry point each fuzz-*.c defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
