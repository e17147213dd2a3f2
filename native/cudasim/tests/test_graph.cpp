// Stream capture, graph instantiation and replay; events.
#include <thread>

#include "harness.h"

using cudasim_test::Sim;

CUDASIM_TEST(Graph_CaptureReplay_DeviceCounterAndCaptureTimeArguments) {
    Sim sim;
    cudasim_stream stream = nullptr;
    Sim::ok(cudasim_stream_create(sim.ctx, &stream), "stream");
    auto dcounter = sim.upload(std::vector<int>{0});
    auto dlog = sim.upload(std::vector<int>(16, -1));
    auto dslot = sim.alloc(sizeof(int));
    int* pinned = nullptr;
    Sim::ok(cudasim_mem_alloc_host(sim.ctx, reinterpret_cast<void**>(&pinned), sizeof(int)), "pinned");
    *pinned = 100;
    cudasim_function step = sim.function("Basic.cu", "append_step");

    Sim::ok(cudasim_stream_begin_capture(sim.ctx, stream), "begin capture");
    int captured = 7;
    Sim::ok(cudasim_memcpy_htod(sim.ctx, dslot, pinned, sizeof(int), stream), "captured memcpy");
    sim.launch(step, 1, 1, 1, 32, 1, 1, 0, {&dcounter, &dlog, &captured, &dslot}, stream);
    captured = 8;  // the graph keeps the value at capture time
    sim.launch(step, 1, 1, 1, 32, 1, 1, 0, {&dcounter, &dlog, &captured, &dslot}, stream);
    CHECK_EQ(cudasim_stream_synchronize(sim.ctx, stream), CUDASIM_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    cudasim_graph graph = nullptr;
    // The illegal synchronize invalidated the capture, as in CUDA.
    CHECK_EQ(cudasim_stream_end_capture(sim.ctx, stream, &graph), CUDASIM_ERROR_STREAM_CAPTURE_INVALIDATED);

    Sim::ok(cudasim_stream_begin_capture(sim.ctx, stream), "begin capture again");
    captured = 7;
    Sim::ok(cudasim_memcpy_htod(sim.ctx, dslot, pinned, sizeof(int), stream), "captured memcpy");
    sim.launch(step, 1, 1, 1, 32, 1, 1, 0, {&dcounter, &dlog, &captured, &dslot}, stream);
    captured = 8;
    sim.launch(step, 1, 1, 1, 32, 1, 1, 0, {&dcounter, &dlog, &captured, &dslot}, stream);
    int capturing = 0;
    Sim::ok(cudasim_stream_is_capturing(sim.ctx, stream, &capturing), "is capturing");
    CHECK_EQ(capturing, 1);
    Sim::ok(cudasim_stream_end_capture(sim.ctx, stream, &graph), "end capture");
    CHECK_EQ(sim.download<int>(dcounter, 1)[0], 0);  // nothing ran during capture
    std::size_t nodes = 0;
    Sim::ok(cudasim_graph_get_node_count(sim.ctx, graph, &nodes), "node count");
    CHECK_EQ(nodes, static_cast<std::size_t>(3));

    cudasim_graph_exec exec = nullptr;
    Sim::ok(cudasim_graph_instantiate(sim.ctx, graph, &exec), "instantiate");
    Sim::ok(cudasim_graph_destroy(sim.ctx, graph), "destroy graph (exec stays valid)");
    captured = 9;
    for (int replay = 0; replay < 3; ++replay) {
        *pinned = 100 + replay;  // host memory behind a memcpy node is read at replay time
        Sim::ok(cudasim_graph_launch(sim.ctx, exec, stream), "graph launch");
    }
    Sim::ok(cudasim_stream_synchronize(sim.ctx, stream), "sync");
    CHECK_EQ(sim.download<int>(dcounter, 1)[0], 6);
    const auto log = sim.download<int>(dlog, 16);
    for (int replay = 0; replay < 3; ++replay) {
        CHECK_EQ(log[4 * replay + 0], 7);
        CHECK_EQ(log[4 * replay + 1], 100 + replay);
        CHECK_EQ(log[4 * replay + 2], 8);
        CHECK_EQ(log[4 * replay + 3], 100 + replay);
    }
    CHECK_EQ(log[12], -1);
    Sim::ok(cudasim_graph_exec_destroy(sim.ctx, exec), "exec destroy");
    Sim::ok(cudasim_mem_free_host(sim.ctx, pinned), "free pinned");
    Sim::ok(cudasim_stream_destroy(sim.ctx, stream), "stream destroy");
}

CUDASIM_TEST(Graph_DefaultStreamCannotCapture_EventsMeasureTime_DeviceInfo) {
    Sim sim;
    CHECK_EQ(cudasim_stream_begin_capture(sim.ctx, nullptr), CUDASIM_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    cudasim_event start = nullptr, end = nullptr;
    Sim::ok(cudasim_event_create(sim.ctx, &start), "event");
    Sim::ok(cudasim_event_create(sim.ctx, &end), "event");
    float ms = -1.0f;
    CHECK_EQ(cudasim_event_elapsed_time(sim.ctx, &ms, start, end), CUDASIM_ERROR_NOT_READY);
    Sim::ok(cudasim_event_record(sim.ctx, start, nullptr), "record");
    std::vector<float> a(1 << 16, 1.0f);
    auto da = sim.upload(a);
    auto dout = sim.alloc(a.size() * sizeof(float));
    int n = static_cast<int>(a.size());
    sim.launch(sim.function("Basic.cu", "vector_add_f32"), 64, 1, 1, 256, 1, 1, 0, {&dout, &da, &da, &n});
    Sim::ok(cudasim_event_record(sim.ctx, end, nullptr), "record");
    Sim::ok(cudasim_event_synchronize(sim.ctx, end), "event sync");
    Sim::ok(cudasim_event_elapsed_time(sim.ctx, &ms, start, end), "elapsed");
    CHECK(ms > 0.0f);
    CHECK_EQ(sim.download<float>(dout, 1)[0], 2.0f);
    cudasim_stream other = nullptr;
    Sim::ok(cudasim_stream_create(sim.ctx, &other), "stream");
    Sim::ok(cudasim_stream_wait_event(sim.ctx, other, end), "wait event");
    Sim::ok(cudasim_stream_destroy(sim.ctx, other), "stream destroy");
    char name[64];
    Sim::ok(cudasim_device_get_name(sim.ctx, name, sizeof name), "name");
    CHECK_EQ(std::string(name).rfind("cudasim (", 0), static_cast<std::size_t>(0));
    std::size_t freeBytes = 0, totalBytes = 0;
    Sim::ok(cudasim_mem_get_info(sim.ctx, &freeBytes, &totalBytes), "mem info");
    CHECK(totalBytes > 0 && freeBytes <= totalBytes && totalBytes - freeBytes >= 2 * a.size() * sizeof(float));
    Sim::ok(cudasim_event_destroy(sim.ctx, start), "destroy");
    Sim::ok(cudasim_event_destroy(sim.ctx, end), "destroy");
}

CUDASIM_TEST(Concurrency_HostThreadsLaunchOnSharedAndSeparateContexts) {
    Sim shared(2);
    // Each host thread: its own stream on the shared context, plus its own private context.
    auto worker = [&shared](int seed, bool* ok) {
        Sim own(2);
        for (Sim* sim : {&shared, &own}) {
            cudasim_stream stream = nullptr;
            Sim::ok(cudasim_stream_create(sim->ctx, &stream), "stream");
            const int n = 3000;
            std::vector<float> a(n), b(n);
            for (int i = 0; i < n; ++i) { a[i] = static_cast<float>(seed * 1000 + i); b[i] = 0.5f; }
            auto da = sim->upload(a), db = sim->upload(b), dout = sim->alloc(n * sizeof(float));
            cudasim_function f = sim->function("Basic.cu", "vector_add_f32");
            int count = n;
            for (int iteration = 0; iteration < 30; ++iteration)
                sim->launch(f, 4, 1, 1, 128, 1, 1, 0, {&dout, &da, &db, &count}, stream);
            const auto out = sim->download<float>(dout, n);
            for (int i = 0; i < n; ++i) *ok = *ok && out[i] == a[i] + 0.5f;
            Sim::ok(cudasim_stream_destroy(sim->ctx, stream), "stream destroy");
        }
    };
    bool ok[4] = {true, true, true, true};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back(worker, t, &ok[t]);
    for (auto& thread : threads) thread.join();
    for (bool result : ok) CHECK(result);
}
