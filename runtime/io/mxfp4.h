// MXFP4 encoding (OCP Microscaling, E2M1 elements with one E8M0 scale per kMxfp4Block = 32), the
// inverse of decode_mxfp4 in runtime/core/dtype.h (which owns the format's constants and tables),
// for writers of GPT-OSS-layout checkpoints (make-model).
// Layout as published (runtime/models/README.md section 3): 32 values of a row share scale byte
// 2^(s-127); element 2b sits in the LOW nibble of byte b, element 2b+1 in the HIGH nibble.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "runtime/core/dtype.h"

namespace moe::io {

// Nearest FP4 E2M1 nibble to x (ties to the even code; |x| > 6 saturates to +-6; NaN -> 0).
uint8_t fp4_e2m1_from_f32(float x);

// Encodes one block of kMxfp4Block values: the shared scale is 2^(floor(log2(max|x|)) - 2) (the OCP
// MX rule: E2M1's largest exponent is 2; values beyond +-6 x scale saturate), written as the E8M0
// byte `*scale` (clamped to [0, 254]); `blocks` receives the 16 packed bytes. An all-zero block
// gets scale byte 0 and zero codes.
void encode_mxfp4_block(const float* x, uint8_t* blocks, uint8_t* scale);

}  // namespace moe::io
