using SpecEE.Core.Model;

namespace SpecEE.Core.Formats;

/// <summary>Checks shared by every reader once the weights are in memory.</summary>
internal static class WeightChecks
{
    /// <summary>A NaN or infinity in a weight means a corrupt file; say which tensor instead of emitting garbage tokens.</summary>
    public static void RequireFinite(string path, LlamaWeights w)
    {
        Check(path, "token embedding", w.TokenEmbedding);
        Check(path, "final norm", w.FinalNorm);
        if (!ReferenceEquals(w.Classifier, w.TokenEmbedding)) Check(path, "classifier", w.Classifier);
        string[] names = ["attention norm", "wq", "wk", "wv", "wo", "ffn norm", "w1 (gate)", "w2 (down)", "w3 (up)"];
        for (int l = 0; l < w.Layers.Length; l++)
        {
            int k = 0;
            foreach (var t in w.Layers[l].All()) Check(path, $"layer {l} {names[k++]}", t);
        }
    }

    private static void Check(string path, string what, float[] a)
    {
        int bad = Array.FindIndex(a, x => !float.IsFinite(x));
        if (bad >= 0) throw new ModelFormatException($"{path}: {what} holds a non-finite value at element {bad} (corrupt file)");
    }
}
