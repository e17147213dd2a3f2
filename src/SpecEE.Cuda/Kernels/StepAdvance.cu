// StepAdvance.cu — the last node of a captured decode step: commit this token's depth and advance the
// step state to the next token, on the device, so consecutive graph replays decode consecutive tokens
// with no host write in between (the host only reads tokens back).
//
// step_advance_i32 (one thread):
//   depth[pos]  = exited ? exitLayer + 1 : nLayers      (the skipped-layer mask later steps' attention reads)
//   token       = nextToken                             (greedy/sampled output becomes the next input)
//   pos         = pos + 1,  seqLen = pos + 1 (new pos)
//   exited      = 0,        exitLayer = nLayers − 1
// Shapes: depth [maxSeq] int32; the others are single int32 fields of the step-state block (StepState.cs).
// The host guarantees pos < maxSeq before it replays a step (it counts steps), so depth[pos] is in range.
// Launch: grid 1, block 32 (thread 0 works; a whole warp keeps the launch shape ordinary).
#include "specee_prelude.cuh"

extern "C" __global__ void step_advance_i32(int* __restrict__ depth, int* __restrict__ token, int* __restrict__ pos,
                                            int* __restrict__ seqLen, int* __restrict__ exited,
                                            int* __restrict__ exitLayer, const int* __restrict__ nextToken, int nLayers)
{
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const int p = *pos;
    depth[p] = *exited ? *exitLayer + 1 : nLayers;
    *token = *nextToken;
    *pos = p + 1;
    *seqLen = p + 2;
    *exited = 0;
    *exitLayer = nLayers - 1;
}
