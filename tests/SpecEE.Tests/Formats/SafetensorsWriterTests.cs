using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using SpecEE.Core.Formats;

namespace SpecEE.Tests.Formats;

public class SafetensorsWriterTests
{
    [Test]
    public void Header_IsSortedPaddedWithSpacesTo8Bytes_AndDataFollowsInNameOrder()
    {
        var w = new SafetensorsWriter();
        w.Metadata["k"] = "v,1";
        w.AddF32("zeta", [1f, 2f], 2);
        w.AddF32("alpha", [3f, 4f, 5f, 6f, 7f, 8f], 2, 3);
        w.AddF16("mid", [(Half)0.5f], 1);
        byte[] b = w.ToBytes();

        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(b);
        Assert.That((8 + n) % 8, Is.Zero, "data must start 8-byte aligned");
        string json = Encoding.UTF8.GetString(b, 8, (int)n);
        Assert.That(json.TrimEnd(' '), Does.EndWith("}"));
        Assert.That(json.Length - json.TrimEnd(' ').Length, Is.LessThan(8), "padding is spaces only, less than 8");
        using var doc = JsonDocument.Parse(json);
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.That(names, Is.EqualTo(new[] { "__metadata__", "alpha", "mid", "zeta" }));
        Assert.That(doc.RootElement.GetProperty("alpha").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()),
            Is.EqualTo(new long[] { 0, 24 }));
        Assert.That(doc.RootElement.GetProperty("mid").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()),
            Is.EqualTo(new long[] { 24, 26 }));
        Assert.That(doc.RootElement.GetProperty("zeta").GetProperty("dtype").GetString(), Is.EqualTo("F32"));
        Assert.That(b.Length, Is.EqualTo(8 + (int)n + 24 + 2 + 8));
        // first data float is alpha[0] = 3, read straight from the bytes
        Assert.That(BitConverter.ToSingle(b, 8 + (int)n), Is.EqualTo(3f));

        var back = SafetensorsFile.Parse("mem", b);
        Assert.That(back.Metadata["k"], Is.EqualTo("v,1"));
        Assert.That(back.ReadF32("alpha", 2, 3), Is.EqualTo(new[] { 3f, 4f, 5f, 6f, 7f, 8f }));
        Assert.That(back.ReadF32("mid", 1), Is.EqualTo(new[] { 0.5f }));
        Assert.That(back.ReadF32("zeta", 2), Is.EqualTo(new[] { 1f, 2f }));
    }

    [Test]
    public void BadInput_IsRejected()
    {
        var w = new SafetensorsWriter();
        Assert.Throws<ArgumentException>(() => w.AddF32("x", [1f, 2f, 3f], 2, 2));
        Assert.Throws<ArgumentException>(() => w.AddF32("__metadata__", [1f], 1));
        w.AddF32("x", [1f], 1);
        Assert.Throws<ArgumentException>(() => w.AddF32("x", [1f], 1));
    }
}
