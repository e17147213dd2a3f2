using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;

namespace SpecEE.Tests.Cuda;

/// <summary>Runs selftest_f16 on a device and checks it against a CPU reference written from the .cu header's formula.</summary>
internal static class SelfTestRun
{
    public static void RunAndCompare(IGpuDevice device, SelfTestKernel kernel, int n, bool useGraph)
    {
        int warps = n / 32;
        var rng = new Random(1234);
        float[] x = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 20 - 10)).ToArray();
        x[0] = 1.00048828125f;  // exactly halfway between two halves: ties go to even (1.0)
        x[1] = 65520f;          // halfway above the largest half: rounds to +inf (so warp 0 sums to +inf)
        x[2] = 5.96e-8f;        // subnormal half
        float[] v = Enumerable.Range(0, 4 * n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int[] k = Enumerable.Range(0, 4 * n).Select(_ => rng.Next(-100, 100)).ToArray();

        // Reference: System.Half casts round to nearest even, like cvt.rn.f16.f32. Sum in double.
        Half[] refRounded = x.Select(f => (Half)f).ToArray();
        var refOut = new double[warps];
        for (int i = 0; i < n; i++)
            refOut[i / 32] += (double)(float)refRounded[i] + v[4 * i] + v[4 * i + 1] + v[4 * i + 2] + v[4 * i + 3] + (k[4 * i] - k[4 * i + 3]);

        using GpuBuffer dOut = device.Allocate(warps * 4), dRounded = device.Allocate(n * 2), dPair = device.Allocate(warps * 4);
        using GpuBuffer dX = device.Allocate(n * 4), dV = device.Allocate(n * 16), dK = device.Allocate(n * 16);
        device.CopyToDevice(dX.Ptr, x.AsSpan());
        device.CopyToDevice(dV.Ptr, v.AsSpan());
        device.CopyToDevice(dK.Ptr, k.AsSpan());
        device.Memset8(dOut.Ptr, 0xFF, warps * 4); // NaN: an unwritten output fails
        device.Memset8(dRounded.Ptr, 0xFF, n * 2);

        using GpuStream stream = device.CreateStream();
        using GpuEvent start = device.CreateEvent(), stop = device.CreateEvent();
        device.Record(start, stream);
        if (useGraph)
        {
            device.BeginCapture(stream);
            kernel.Launch(dOut, dRounded, dPair, dX, dV, dK, n, stream);
            using GpuGraph graph = device.EndCapture(stream);
            // Capture records work without running it: the output is still the NaN fill.
            var beforeReplay = new float[warps];
            device.Synchronize(stream);
            device.CopyToHost(beforeReplay.AsSpan(), dOut.Ptr);
            Assert.That(beforeReplay, Has.All.NaN, "captured launch must not run before replay");
            device.Launch(graph, stream);
            device.Launch(graph, stream); // idempotent kernel: the second replay writes the same values
        }
        else
        {
            kernel.Launch(dOut, dRounded, dPair, dX, dV, dK, n, stream);
        }
        device.Record(stop, stream);
        device.Synchronize(stop);
        Assert.That(device.ElapsedMilliseconds(start, stop), Is.GreaterThanOrEqualTo(0f));

        var outHost = new float[warps];
        var roundedHost = new Half[n];
        var pairHost = new Half[2 * warps];
        device.CopyToHost(outHost.AsSpan(), dOut.Ptr);
        device.CopyToHost(roundedHost.AsSpan(), dRounded.Ptr);
        device.CopyToHost(pairHost.AsSpan(), dPair.Ptr);

        for (int i = 0; i < n; i++)
            if (BitConverter.HalfToUInt16Bits(roundedHost[i]) != BitConverter.HalfToUInt16Bits(refRounded[i]))
                Assert.Fail($"rounded[{i}]: half({x[i]:R}) = 0x{BitConverter.HalfToUInt16Bits(roundedHost[i]):x4}, expected 0x{BitConverter.HalfToUInt16Bits(refRounded[i]):x4}");
        for (int w = 0; w < warps; w++)
        {
            if (double.IsInfinity(refOut[w]))
                Assert.That(outHost[w], Is.EqualTo((float)refOut[w]), $"out[{w}]");
            else
                Assert.That(outHost[w], Is.EqualTo(refOut[w]).Within(1e-4 + 1e-5 * Math.Abs(refOut[w])), $"out[{w}]");
            Assert.That(pairHost[2 * w], Is.EqualTo((Half)outHost[w]), $"pair[{w}].x");
            Assert.That(pairHost[2 * w + 1], Is.EqualTo((Half)(-outHost[w])), $"pair[{w}].y");
        }
    }
}
