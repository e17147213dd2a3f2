// fp16 conversions against the compiler's _Float16 (an independent IEEE implementation).
#include <cstring>
#include <random>

#include "cudasim/half.h"
#include "harness.h"

namespace {
uint16_t reference_bits(float f) {
    const _Float16 h = static_cast<_Float16>(f);
    uint16_t bits;
    std::memcpy(&bits, &h, 2);
    return bits;
}
bool is_nan_bits(uint16_t h) { return (h & 0x7fffu) > 0x7c00u; }
void check_conversion(float f) {
    const uint16_t ours = __half_as_ushort(__float2half(f));
    const uint16_t ref = reference_bits(f);
    if (is_nan_bits(ref)) {
        CHECK(is_nan_bits(ours));
        return;
    }
    if (ours != ref) {
        uint32_t fb;
        std::memcpy(&fb, &f, 4);
        cudasim_test::fail_now(__FILE__, __LINE__,
                               "float bits " + std::to_string(fb) + ": half " + std::to_string(ours) + " vs " + std::to_string(ref));
    }
}
}  // namespace

CUDASIM_TEST(Half_AllHalvesToFloat_And_RoundingAtEveryMidpoint) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const uint16_t bits = static_cast<uint16_t>(h);
        _Float16 ref;
        std::memcpy(&ref, &bits, 2);
        const float ours = __half2float(__ushort_as_half(bits));
        if (is_nan_bits(bits)) {
            CHECK(ours != ours);
            continue;
        }
        CHECK_EQ(__builtin_bit_cast(uint32_t, ours), __builtin_bit_cast(uint32_t, static_cast<float>(ref)));
        check_conversion(ours);  // exact values round-trip
        // The midpoint to the next half up (ties to even), and one ulp of fp32 either side of it.
        if ((bits & 0x7fffu) < 0x7bffu) {
            const float next = __half2float(__ushort_as_half(static_cast<uint16_t>(bits + 1)));
            const float mid = static_cast<float>((static_cast<double>(ours) + next) / 2.0);
            check_conversion(mid);
            check_conversion(std::nextafter(mid, 0.0f));
            check_conversion(std::nextafter(mid, ours > 0 || (bits & 0x8000u) == 0 ? 1e30f : -1e30f));
        }
    }
}

CUDASIM_TEST(Half_RandomAndSpecialFloats_MatchFloat16Cast) {
    std::mt19937 rng(123);
    for (int i = 0; i < 2000000; ++i) {
        const uint32_t bits = rng();
        float f;
        std::memcpy(&f, &bits, 4);
        check_conversion(f);
    }
    for (float f : {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, -65520.0f, 1e-8f, 2.98023224e-8f, 2.98023252e-8f,
                    5.96046448e-8f, 6.103515625e-05f, 6.1035e-05f, INFINITY, -INFINITY, NAN})
        check_conversion(f);
    CHECK_EQ(__half_as_ushort(__float2half(NAN)), static_cast<unsigned short>(0x7fffu));  // CUDA's canonical NaN
}
