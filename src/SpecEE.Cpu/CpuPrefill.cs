using SpecEE.Core.Model;

namespace SpecEE.Cpu;

/// <summary>
/// Dense forward of a prompt, batched: the prompt is cut into chunks of up to <see cref="Chunk"/> tokens and
/// each layer runs on a whole chunk at once, so every weight block is read once per chunk (GEMM) instead of
/// once per token (GEMV). GEMMs are split by rows and attention by tokens over the worker pool.
/// Same math and the same per-element summation order as <see cref="CpuDecoderLayer"/>.
/// </summary>
internal sealed unsafe class CpuPrefill
{
    internal const int Chunk = 128;

    private readonly LlamaConfig _cfg;
    private readonly LlamaWeights _w;
    private readonly RopeTable _rope;
    private readonly KvCache _kv;
    private readonly CpuWorkerPool _pool;
    private readonly float[] _x;    // [Chunk, dim] residual streams
    private readonly float[] _xb;   // [Chunk, dim] normed
    private readonly float[] _q;    // [Chunk, qDim]
    private readonly float[] _att;  // [Chunk, qDim]
    private readonly float[] _gate; // [Chunk, hiddenDim]
    private readonly float[] _up;   // [Chunk, hiddenDim]
    private readonly float[] _scratch; // [Chunk, hiddenDim] for the SwiGLU sigmoid
    private readonly CpuMatMul _mm;
    private readonly AttentionJob _attention;

    public CpuPrefill(LlamaConfig cfg, LlamaWeights w, RopeTable rope, KvCache kv, CpuWorkerPool pool, CpuMatMul mm)
    {
        _cfg = cfg; _w = w; _rope = rope; _kv = kv; _pool = pool; _mm = mm;
        int qDim = cfg.NHeads * cfg.HeadDim;
        _x = new float[Chunk * cfg.Dim];
        _xb = new float[Chunk * cfg.Dim];
        _q = new float[Chunk * qDim];
        _att = new float[Chunk * qDim];
        _gate = new float[Chunk * cfg.HiddenDim];
        _up = new float[Chunk * cfg.HiddenDim];
        _scratch = new float[Chunk * cfg.HiddenDim];
        _attention = new AttentionJob(this, _pool.Count);
    }

    /// <summary>
    /// Runs tokens at positions startPos.. through every layer; <paramref name="lastHidden"/> gets the last residual
    /// stream. When <paramref name="allLogits"/> is not empty it receives the logits of every position, [tokens, vocab].
    /// </summary>
    public void Run(ReadOnlySpan<int> tokens, int startPos, Span<float> lastHidden, Span<float> allLogits = default)
    {
        // Dense prompt: commit every position up front so tokens of the same chunk see each other.
        _kv.Depth.AsSpan(startPos, tokens.Length).Fill(_cfg.NLayers);
        for (int c = 0; c < tokens.Length; c += Chunk)
        {
            int n = Math.Min(Chunk, tokens.Length - c);
            RunChunk(tokens.Slice(c, n), startPos + c);
            if (!allLogits.IsEmpty) ChunkLogits(n, allLogits.Slice(c * _cfg.Vocab, n * _cfg.Vocab));
        }
        int last = (tokens.Length - 1) % Chunk;
        _x.AsSpan(last * _cfg.Dim, _cfg.Dim).CopyTo(lastHidden);
    }

    private void RunChunk(ReadOnlySpan<int> tokens, int pos0)
    {
        int dim = _cfg.Dim, kvDim = _cfg.KvDim, qDim = _cfg.NHeads * _cfg.HeadDim, hid = _cfg.HiddenDim, n = tokens.Length;
        for (int t = 0; t < n; t++) _w.TokenEmbedding.AsSpan(tokens[t] * dim, dim).CopyTo(_x.AsSpan(t * dim, dim));

        for (int l = 0; l < _cfg.NLayers; l++)
        {
            var lw = _w.Layers[l];
            var keys = _kv.LayerKeys(l);
            var values = _kv.LayerValues(l);
            NormRows(lw.AttnNorm, n);
            fixed (float* pk = keys) fixed (float* pv = values)
            {
                Gemm(lw.Wq, _xb, _q, n, dim, qDim, qDim, false);
                Gemm(lw.Wk, _xb, pk + (long)pos0 * kvDim, n, dim, kvDim, kvDim, false);
                Gemm(lw.Wv, _xb, pv + (long)pos0 * kvDim, n, dim, kvDim, kvDim, false);
            }
            for (int t = 0; t < n; t++)
            {
                _rope.Apply(_q.AsSpan(t * qDim, qDim), pos0 + t);
                _rope.Apply(keys.Slice((pos0 + t) * kvDim, kvDim), pos0 + t);
            }
            _attention.Set(l, pos0, n);
            _pool.Run(_attention, parallel: (long)n * (pos0 + n) * qDim * 2 >= _mm.MinParallelMacs && _pool.ShouldSplit());
            Gemm(lw.Wo, _att, _x, n, qDim, dim, dim, true);

            NormRows(lw.FfnNorm, n);
            Gemm(lw.W1, _xb, _gate, n, dim, hid, hid, false);
            Gemm(lw.W3, _xb, _up, n, dim, hid, hid, false);
            CpuKernels.SwiGlu(_gate.AsSpan(0, n * hid), _up.AsSpan(0, n * hid), _scratch);
            Gemm(lw.W2, _gate, _x, n, hid, dim, dim, true);
        }
    }

    /// <summary>logits[t] = classifier · finalNorm(x[t]) for the n rows of the current chunk; overwrites _xb.</summary>
    private void ChunkLogits(int n, Span<float> logits)
    {
        NormRows(_w.FinalNorm, n);
        fixed (float* pl = logits) Gemm(_w.Classifier, _xb, pl, n, _cfg.Dim, _cfg.Vocab, _cfg.Vocab, false);
    }

    private void NormRows(float[] weight, int n)
    {
        int dim = _cfg.Dim;
        for (int t = 0; t < n; t++)
            CpuKernels.RmsNorm(_x.AsSpan(t * dim, dim), weight, _cfg.NormEps, _xb.AsSpan(t * dim, dim));
    }

    private void Gemm(float[] w, float[] x, float[] y, int n, int cols, int rows, int yStride, bool accumulate)
    {
        fixed (float* py = y) Gemm(w, x, py, n, cols, rows, yStride, accumulate);
    }

    private void Gemm(float[] w, float[] x, float* y, int n, int cols, int rows, int yStride, bool accumulate)
    {
        fixed (float* px = x) _mm.Gemm(w, px, y, n, cols, rows, yStride, accumulate);
    }

    /// <summary>Causal attention of every token of the chunk; token t goes to part t mod parts (later tokens cost more).</summary>
    private sealed class AttentionJob : IParallelJob
    {
        private readonly CpuPrefill _p;
        private readonly float[][] _scores;  // [parts][maxSeq]
        private readonly int[][] _visible;   // [parts][maxSeq]
        private int _layer, _pos0, _n;

        public AttentionJob(CpuPrefill p, int parts)
        {
            _p = p;
            _scores = new float[parts][];
            _visible = new int[parts][];
            for (int i = 0; i < parts; i++) { _scores[i] = new float[p._kv.MaxSeq]; _visible[i] = new int[p._kv.MaxSeq]; }
        }

        public void Set(int layer, int pos0, int n) { _layer = layer; _pos0 = pos0; _n = n; }

        public void Execute(int part, int parts)
        {
            var cfg = _p._cfg;
            int qDim = cfg.NHeads * cfg.HeadDim;
            var keys = _p._kv.LayerKeys(_layer);
            var values = _p._kv.LayerValues(_layer);
            for (int t = part; t < _n; t += parts)
            {
                int pos = _pos0 + t;
                int count = CpuDecoderLayer.VisiblePositions(_p._kv.Depth, _layer, pos, _visible[part]);
                Attention.Attend(cfg, _p._q.AsSpan(t * qDim, qDim), keys, values, _visible[part].AsSpan(0, count),
                                 _scores[part], _p._att.AsSpan(t * qDim, qDim));
            }
        }
    }
}
