// Minimal test harness for the cudasim C API tests (plain C++, one process per test case under CTest).
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "cudasim_api.h"

namespace cudasim_test {

struct TestCase {
    const char* name;
    std::function<void()> body;
};
std::vector<TestCase>& registry();

struct Registrar {
    Registrar(const char* name, std::function<void()> body) { registry().push_back({name, std::move(body)}); }
};

inline std::string to_text(const std::string& s) { return "\"" + s + "\""; }
inline std::string to_text(const char* s) { return to_text(std::string(s)); }
template <typename T> std::string to_text(const T& v) { return std::to_string(v); }

[[noreturn]] inline void fail_now(const char* file, int line, const std::string& message) {
    std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, message.c_str());
    std::exit(1);
}

// A context plus helpers that fail the test on any API error, printing the error name and detail.
class Sim {
public:
    explicit Sim(int workers = 0);
    ~Sim();
    cudasim_ctx ctx = nullptr;

    cudasim_deviceptr alloc(std::size_t bytes);
    template <typename T> cudasim_deviceptr upload(const std::vector<T>& host) {
        const cudasim_deviceptr p = alloc(host.size() * sizeof(T));
        ok(cudasim_memcpy_htod(ctx, p, host.data(), host.size() * sizeof(T), nullptr), "upload");
        return p;
    }
    template <typename T> std::vector<T> download(cudasim_deviceptr p, std::size_t count) {
        std::vector<T> host(count);
        ok(cudasim_memcpy_dtoh(ctx, host.data(), p, count * sizeof(T), nullptr), "download");
        return host;
    }
    cudasim_function function(const char* module, const char* kernel);
    // Launches with the given argument pointers (kernelParams); fails the test on error.
    void launch(cudasim_function f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                unsigned shared, std::vector<const void*> args, cudasim_stream stream = nullptr);
    static void ok(int rc, const char* what);

private:
    std::mutex mutex_;  // tests may share one Sim between host threads
    std::vector<cudasim_deviceptr> allocations_;
    std::vector<cudasim_module> modules_;
};

}  // namespace cudasim_test

#define CUDASIM_TEST(name)                                                         \
    static void name();                                                            \
    static ::cudasim_test::Registrar name##_registrar(#name, &name);               \
    static void name()

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) ::cudasim_test::fail_now(__FILE__, __LINE__, #cond);          \
    } while (0)

#define CHECK_EQ(actual, expected)                                                                     \
    do {                                                                                               \
        const auto a_ = (actual);                                                                      \
        const auto e_ = (expected);                                                                    \
        if (!(a_ == e_))                                                                               \
            ::cudasim_test::fail_now(__FILE__, __LINE__,                                               \
                                     std::string(#actual " == " #expected ": got ") + ::cudasim_test::to_text(a_) + \
                                         ", expected " + ::cudasim_test::to_text(e_));                          \
    } while (0)

// |actual − expected| ≤ atol + rtol·|expected|
#define CHECK_NEAR(actual, expected, atol, rtol)                                                       \
    do {                                                                                               \
        const double a_ = (actual), e_ = (expected);                                                   \
        if (!(std::fabs(a_ - e_) <= (atol) + (rtol) * std::fabs(e_)))                                  \
            ::cudasim_test::fail_now(__FILE__, __LINE__,                                               \
                                     std::string(#actual ": got ") + std::to_string(a_) + ", expected " + \
                                         std::to_string(e_));                                          \
    } while (0)
