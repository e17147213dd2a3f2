// C API: streams and events. Work completes before each call returns, so synchronisation only has to
// enforce the rules that stay observable: nothing may synchronise a capturing stream.
#include "context.h"

using namespace cudasim::detail;

namespace {
// Illegal calls during capture invalidate it, as in CUDA: the capture must be ended and discarded.
int reject_during_capture(cudasim_stream_st* stream, const char* call) {
    stream->capture->invalidated = true;
    stream->capture->invalidReason = call;
    return fail(CUDASIM_ERROR_STREAM_CAPTURE_UNSUPPORTED, "%s: not permitted while the stream is capturing", call);
}
}  // namespace

extern "C" {

CUDASIM_API int cudasim_stream_create(cudasim_ctx ctx, cudasim_stream* outStream) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_stream_create");
    if (outStream == nullptr) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_stream_create: outStream is null");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    *outStream = ctx->streams.add(std::make_unique<cudasim_stream_st>());
    return succeed();
}

CUDASIM_API int cudasim_stream_destroy(cudasim_ctx ctx, cudasim_stream stream) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_stream_destroy");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    if (!ctx->streams.remove(stream))
        return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_stream_destroy: not a stream of this context");
    return succeed();
}

CUDASIM_API int cudasim_stream_synchronize(cudasim_ctx ctx, cudasim_stream stream) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_stream_synchronize");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_stream_synchronize");
    if (s->capture) return reject_during_capture(s, "cudasim_stream_synchronize");
    return succeed();
}

CUDASIM_API int cudasim_stream_query(cudasim_ctx ctx, cudasim_stream stream) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_stream_query");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_stream_query");
    if (s->capture) return reject_during_capture(s, "cudasim_stream_query");
    return succeed();
}

CUDASIM_API int cudasim_event_create(cudasim_ctx ctx, cudasim_event* outEvent) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_event_create");
    if (outEvent == nullptr) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_event_create: outEvent is null");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    *outEvent = ctx->events.add(std::make_unique<cudasim_event_st>());
    return succeed();
}

CUDASIM_API int cudasim_event_destroy(cudasim_ctx ctx, cudasim_event event) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_event_destroy");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    if (!ctx->events.remove(event))
        return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_event_destroy: not an event of this context");
    return succeed();
}

CUDASIM_API int cudasim_event_record(cudasim_ctx ctx, cudasim_event event, cudasim_stream stream) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_event_record");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_event_record");
    {
        std::lock_guard<std::mutex> lock(ctx->mutex);
        if (!ctx->events.contains(event))
            return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_event_record: not an event of this context");
    }
    if (s->capture) return reject_during_capture(s, "cudasim_event_record");
    event->recorded = true;
    event->time = std::chrono::steady_clock::now();  // everything before it on the stream has completed
    return succeed();
}

CUDASIM_API int cudasim_stream_wait_event(cudasim_ctx ctx, cudasim_stream stream, cudasim_event event) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_stream_wait_event");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_stream_wait_event");
    (void)s;
    std::lock_guard<std::mutex> lock(ctx->mutex);
    if (!ctx->events.contains(event))
        return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_stream_wait_event: not an event of this context");
    return succeed();  // the event's work completed when it was recorded; nothing to order
}

CUDASIM_API int cudasim_event_synchronize(cudasim_ctx ctx, cudasim_event event) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_event_synchronize");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    if (!ctx->events.contains(event))
        return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_event_synchronize: not an event of this context");
    return succeed();
}

CUDASIM_API int cudasim_event_query(cudasim_ctx ctx, cudasim_event event) {
    return cudasim_event_synchronize(ctx, event);
}

CUDASIM_API int cudasim_event_elapsed_time(cudasim_ctx ctx, float* outMs, cudasim_event start, cudasim_event end) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_event_elapsed_time");
    if (outMs == nullptr) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_event_elapsed_time: outMs is null");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    if (!ctx->events.contains(start) || !ctx->events.contains(end))
        return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_event_elapsed_time: not events of this context");
    if (!start->recorded || !end->recorded)
        return fail(CUDASIM_ERROR_NOT_READY, "cudasim_event_elapsed_time: an event was never recorded");
    *outMs = std::chrono::duration<float, std::milli>(end->time - start->time).count();
    return succeed();
}

}  // extern "C"
