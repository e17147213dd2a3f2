namespace SpecEE.Core.EarlyExit;

/// <summary>What happens to the K/V of the layers a token skipped by exiting early (specee.md §4.2).</summary>
public enum KvPolicy
{
    /// <summary>
    /// SpecEE's own behaviour (PC build's per-layer cell masks, HF path's missing cache entries): skipped layers
    /// never get K/V for that position, and layer ℓ never attends to positions whose token exited before ℓ.
    /// </summary>
    Mask,

    /// <summary>
    /// Extension (not in any SpecEE code): fill each skipped layer's K/V at that position from the exit layer's hidden
    /// state through the skipped layer's own attention norm and K/V weights (RoPE at the absolute position), and let
    /// every layer attend to it.
    /// </summary>
    Project,
}
