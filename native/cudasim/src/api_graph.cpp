// C API: stream capture and graphs. A graph is the list of captured operations in stream order (one stream
// in, so a chain); an executable graph is an independent copy that replays them.
#include "context.h"

using namespace cudasim::detail;

extern "C" {

CUDASIM_API int cudasim_stream_begin_capture(cudasim_ctx ctx, cudasim_stream stream) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_stream_begin_capture");
    if (stream == nullptr)
        return fail(CUDASIM_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                    "cudasim_stream_begin_capture: the default stream cannot be captured; create a stream");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_stream_begin_capture");
    if (s->capture) return fail(CUDASIM_ERROR_ILLEGAL_STATE, "cudasim_stream_begin_capture: already capturing");
    s->capture = std::make_unique<cudasim_graph_st>();
    return succeed();
}

CUDASIM_API int cudasim_stream_end_capture(cudasim_ctx ctx, cudasim_stream stream, cudasim_graph* outGraph) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_stream_end_capture");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_stream_end_capture");
    if (outGraph == nullptr) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_stream_end_capture: outGraph is null");
    if (!s->capture)
        return fail(CUDASIM_ERROR_STREAM_CAPTURE_UNMATCHED, "cudasim_stream_end_capture: the stream is not capturing");
    std::unique_ptr<cudasim_graph_st> graph = std::move(s->capture);
    if (graph->invalidated) {
        *outGraph = nullptr;
        return fail(CUDASIM_ERROR_STREAM_CAPTURE_INVALIDATED,
                    "cudasim_stream_end_capture: capture was invalidated by %s", graph->invalidReason.c_str());
    }
    std::lock_guard<std::mutex> lock(ctx->mutex);
    *outGraph = ctx->graphs.add(std::move(graph));
    return succeed();
}

CUDASIM_API int cudasim_stream_is_capturing(cudasim_ctx ctx, cudasim_stream stream, int* outCapturing) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_stream_is_capturing");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_stream_is_capturing");
    if (outCapturing == nullptr) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_stream_is_capturing: outCapturing is null");
    *outCapturing = s->capture != nullptr;
    return succeed();
}

CUDASIM_API int cudasim_graph_get_node_count(cudasim_ctx ctx, cudasim_graph graph, size_t* outCount) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_graph_get_node_count");
    if (outCount == nullptr) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_graph_get_node_count: outCount is null");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    if (!ctx->graphs.contains(graph))
        return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_graph_get_node_count: not a graph of this context");
    *outCount = graph->nodes.size();
    return succeed();
}

CUDASIM_API int cudasim_graph_destroy(cudasim_ctx ctx, cudasim_graph graph) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_graph_destroy");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    if (!ctx->graphs.remove(graph))
        return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_graph_destroy: not a graph of this context");
    return succeed();
}

CUDASIM_API int cudasim_graph_instantiate(cudasim_ctx ctx, cudasim_graph graph, cudasim_graph_exec* outExec) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_graph_instantiate");
    if (outExec == nullptr) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_graph_instantiate: outExec is null");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    if (!ctx->graphs.contains(graph))
        return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_graph_instantiate: not a graph of this context");
    auto exec = std::make_unique<cudasim_graph_exec_st>();
    exec->nodes = graph->nodes;
    *outExec = ctx->execs.add(std::move(exec));
    return succeed();
}

CUDASIM_API int cudasim_graph_exec_destroy(cudasim_ctx ctx, cudasim_graph_exec exec) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_graph_exec_destroy");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    if (!ctx->execs.remove(exec))
        return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_graph_exec_destroy: not an executable graph of this context");
    return succeed();
}

CUDASIM_API int cudasim_graph_launch(cudasim_ctx ctx, cudasim_graph_exec exec, cudasim_stream stream) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_graph_launch");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_graph_launch");
    {
        std::lock_guard<std::mutex> lock(ctx->mutex);
        if (!ctx->execs.contains(exec))
            return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_graph_launch: not an executable graph of this context");
    }
    if (s->capture) {  // launching a graph into a capture embeds its operations
        for (const Operation& node : exec->nodes) s->capture->nodes.push_back(node);
        return succeed();
    }
    for (std::size_t i = 0; i < exec->nodes.size(); ++i) {
        const int rc = execute(ctx, exec->nodes[i], nullptr);
        if (rc != CUDASIM_SUCCESS) {
            const std::string detail = last_error_message();
            return fail(rc, "cudasim_graph_launch: node %zu: %s", i, detail.c_str());
        }
    }
    return succeed();
}

}  // extern "C"
